#pragma once

#include <functional>

#include <QChar>
#include <QList>
#include <QString>
#include <QStringList>

#include "base/HostNames.h"
#include "base/Result.h"
#include "config/BrokerConfig.h"

namespace fmb {

// One row of the settings table. Parsing, precedence and --help all read
// configSettings(), so a setting is added in exactly one place: a row of
// buildSettings() in ConfigSetting.cpp naming its key, help and typed binder.
struct ConfigSetting {
    QString key;             // INI key; also Error::subject for errors about this setting
    QString flag;            // long flag, without "--": the key with '-' for '_' (one older exception)
    QString envVar;          // FMB_ and the key in capitals
    QString valueName;       // what --help shows after the flag: HOST:PORT, DURATION, ...
    QString help;            // one or two short lines (with '\n') for --help
    bool list = false;       // repeatable flag; a list in the INI file; split on envSeparator in the env
    QChar envSeparator = {}; // lists only: ',' or '\n'
    bool inFile = true;      // false for "config" itself, which the file cannot set
    // Parses values into config: exactly one value for a scalar, every entry of the
    // winning source for a list. The Error names the key and the value (never a
    // secret) but not the source; the loader appends that.
    std::function<Result<void>(BrokerConfig &config, const QStringList &values)> apply;
    // The current value as --help shows it for the default; never shows a secret.
    std::function<QString(const BrokerConfig &config)> describe;
};

// Every setting, in --help order. The table is built once and lives until exit.
[[nodiscard]] const QList<ConfigSetting> &configSettings();

} // namespace fmb
