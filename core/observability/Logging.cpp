#include "Logging.h"

namespace fmb {
Q_LOGGING_CATEGORY(lcObservability, "fmb.observability", QtInfoMsg)
}
