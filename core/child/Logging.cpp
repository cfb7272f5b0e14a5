#include "Logging.h"

namespace fmb {
Q_LOGGING_CATEGORY(lcChild, "fmb.child", QtInfoMsg)
}
