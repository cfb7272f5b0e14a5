#pragma once

#include <QLoggingCategory>

namespace fmb {
Q_DECLARE_LOGGING_CATEGORY(lcObservability)
}
