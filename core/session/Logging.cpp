#include "Logging.h"

namespace fmb {
Q_LOGGING_CATEGORY(lcSession, "fmb.session", QtInfoMsg)
}
