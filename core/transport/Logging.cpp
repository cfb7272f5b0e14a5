#include "Logging.h"

namespace fmb {
Q_LOGGING_CATEGORY(lcHttp, "fmb.http", QtInfoMsg)
}
