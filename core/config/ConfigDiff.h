#pragma once

#include <QList>
#include <QString>

#include "config/BrokerConfig.h"

namespace fmb {

// One setting whose value differs between two configurations.
struct ConfigChange {
    QString key;    // the INI key
    QString before; // as --help describes a value: never a secret (child_env
    QString after;  // shows NAME=... only, so both may read the same)
};

// The settings that differ, in --help order (SIGHUP reload says which changed).
[[nodiscard]] QList<ConfigChange> configChanges(const BrokerConfig &before, const BrokerConfig &after);

} // namespace fmb
