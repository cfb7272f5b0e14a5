#include "Logging.h"

namespace fmb {
Q_LOGGING_CATEGORY(lcRotation, "fmb.rotation", QtInfoMsg)
}
