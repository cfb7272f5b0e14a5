#include "Logging.h"

namespace fmb {
Q_LOGGING_CATEGORY(lcEventLoop, "fmb.eventloop", QtInfoMsg)
}
