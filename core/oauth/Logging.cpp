#include "Logging.h"

namespace fmb {
Q_LOGGING_CATEGORY(lcOAuth, "fmb.oauth", QtInfoMsg)
}
