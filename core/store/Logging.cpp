#include "Logging.h"

namespace fmb {
Q_LOGGING_CATEGORY(lcStore, "fmb.store", QtInfoMsg)
}
