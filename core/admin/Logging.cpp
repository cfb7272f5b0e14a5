#include "Logging.h"

namespace fmb {
Q_LOGGING_CATEGORY(lcAdmin, "fmb.admin", QtInfoMsg)
}
