#include "ConfigLoader.h"

#include <optional>

#include <unistd.h>

#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QSettings>
#include <QStandardPaths>
#include <QVariant>

#include "config/ConfigSetting.h"

namespace fmb {
namespace {

QString quoted(const QString &value)
{
    return QLatin1Char('"') + value + QLatin1Char('"');
}

// A setting without a value name is a switch: the bare flag means "true" and
// never takes the next argument; --flag=VALUE, the variable and the INI key
// still give a value, which the setting's apply() checks.
bool isSwitch(const ConfigSetting &setting)
{
    return setting.valueName.isEmpty();
}

const ConfigSetting *settingByFlag(const QString &flag)
{
    for (const ConfigSetting &setting : configSettings()) {
        if (setting.flag == flag)
            return &setting;
    }
    return nullptr;
}

const ConfigSetting *settingByKey(const QString &key)
{
    for (const ConfigSetting &setting : configSettings()) {
        if (setting.key == key)
            return &setting;
    }
    return nullptr;
}

Error unknownFlag(const QString &flag)
{
    return Error{ErrorCode::InvalidArgument, flag, flag + QLatin1String(": unknown flag (see --help)")};
}

// The argument itself is not shown: a stray word is often a value whose flag
// went missing, and that value may be a secret.
Error unexpectedArgument(qsizetype index)
{
    return Error{ErrorCode::InvalidArgument, QStringLiteral("command line"),
                 QLatin1String("command line: argument ") + QString::number(index) +
                     QLatin1String(" is not a flag; give settings as --name VALUE (see --help)")};
}

struct CommandLine {
    bool help = false;
    bool version = false;
    QHash<QString, QStringList> values; // setting key -> values in the order given
    std::optional<Error> error;         // the first problem; --help and --version still win
};

CommandLine parseCommandLine(const QStringList &args)
{
    CommandLine line;
    const auto fail = [&line](Error error) {
        if (!line.error)
            line.error = std::move(error);
    };
    for (qsizetype i = 1; i < args.size(); ++i) {
        const QString &arg = args.at(i);
        if (arg == QLatin1String("-h") || arg == QLatin1String("--help")) {
            line.help = true;
            continue;
        }
        if (arg == QLatin1String("--version")) {
            line.version = true;
            continue;
        }
        if (arg == QLatin1String("--")) {
            if (i + 1 < args.size())
                fail(unexpectedArgument(i + 1));
            break;
        }
        if (!arg.startsWith(QLatin1String("--"))) {
            fail(arg.size() > 1 && arg.startsWith(QLatin1Char('-')) ? unknownFlag(arg)
                                                                    : unexpectedArgument(i));
            continue;
        }
        const qsizetype equals = arg.indexOf(QLatin1Char('='));
        const QString name = equals < 0 ? arg.mid(2) : arg.mid(2, equals - 2);
        const ConfigSetting *setting = settingByFlag(name);
        if (!setting) {
            if (name == QLatin1String("help") || name == QLatin1String("version"))
                fail(Error{ErrorCode::InvalidArgument, QLatin1String("--") + name,
                           QLatin1String("--") + name + QLatin1String(": takes no value")});
            else
                fail(unknownFlag(QLatin1String("--") + name));
            continue;
        }
        if (equals >= 0) {
            line.values[setting->key].append(arg.mid(equals + 1));
        } else if (isSwitch(*setting)) {
            line.values[setting->key].append(QStringLiteral("true"));
        } else if (i + 1 < args.size()) {
            line.values[setting->key].append(args.at(++i));
        } else {
            fail(Error{ErrorCode::InvalidArgument, setting->key,
                       setting->key + QLatin1String(": --") + setting->flag +
                           QLatin1String(" needs a value (") + setting->valueName + QLatin1Char(')')});
        }
    }
    return line;
}

struct Source {
    QStringList values; // one for a scalar; every entry for a list
    QString origin;     // "--listen", "FMB_LISTEN" or the file's path
};

// List entries from the environment or the file: trimmed, empty ones dropped.
QStringList cleanEntries(const QStringList &entries)
{
    QStringList clean;
    for (const QString &entry : entries) {
        const QString trimmed = entry.trimmed();
        if (!trimmed.isEmpty())
            clean.append(trimmed);
    }
    return clean;
}

// The winning source of one setting, or nullopt when the default stands.
std::optional<Source> pickSource(const ConfigSetting &setting, const CommandLine &line,
                                 const QProcessEnvironment &env, const QVariantHash &file,
                                 const QString &filePath)
{
    if (const auto flagValues = line.values.constFind(setting.key); flagValues != line.values.constEnd()) {
        // A repeated scalar flag: the last one wins, as a later override should.
        return Source{setting.list ? *flagValues : QStringList{flagValues->constLast().trimmed()},
                      QLatin1String("--") + setting.flag};
    }
    const QString envValue = env.value(setting.envVar);
    if (!envValue.trimmed().isEmpty()) {
        return Source{setting.list ? cleanEntries(envValue.split(setting.envSeparator))
                                   : QStringList{envValue.trimmed()},
                      setting.envVar};
    }
    if (setting.inFile && file.contains(setting.key)) {
        // QSettings turns an unquoted value with commas into a list.
        const QVariant value = file.value(setting.key);
        const QStringList parts = value.metaType().id() == QMetaType::QStringList
                                      ? value.toStringList()
                                      : QStringList{value.toString()};
        return Source{setting.list ? cleanEntries(parts)
                                   : QStringList{parts.join(QLatin1String(", ")).trimmed()},
                      filePath};
    }
    return std::nullopt;
}

Error unknownKey(const QString &name, const QString &path)
{
    QString hint = QStringLiteral(" (see --help for the keys)");
    const ConfigSetting *known = settingByKey(name.section(QLatin1Char('/'), -1));
    if (known && known->inFile)
        hint = QLatin1String("; write ") + known->key +
               QLatin1String("= at the top of the file, before any [section]");
    else if (known)
        hint = QLatin1String("; ") +
               (known->key == QLatin1String("config") ? QStringLiteral("the file to read")
                                                      : QString(known->key)) +
               QLatin1String(" is given only by --") + known->flag + QLatin1String(" or ") + known->envVar;
    return Error{ErrorCode::InvalidArgument, name, name + QLatin1String(": unknown key in ") + path + hint};
}

// Every key of the file, checked against the table.
Result<QVariantHash> readConfigFile(const QString &path)
{
    const QString key = QStringLiteral("config");
    const QString cannotRead = QLatin1String("config: cannot read ") + quoted(path) + QLatin1String(": ");
    const QFileInfo info(path);
    if (!info.exists())
        return Error{ErrorCode::NotFound, key, cannotRead + QLatin1String("no such file")};
    if (!info.isFile())
        return Error{ErrorCode::Io, key, cannotRead + QLatin1String("not a regular file")};
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return Error{ErrorCode::Io, key, cannotRead + file.errorString()};
    file.close();

    const QSettings settings(path, QSettings::IniFormat);
    if (settings.status() != QSettings::NoError)
        return Error{ErrorCode::InvalidArgument, key,
                     QLatin1String("config: ") + quoted(path) + QLatin1String(" is not a valid INI file")};
    QVariantHash values;
    const QStringList names = settings.allKeys();
    for (const QString &name : names) {
        const ConfigSetting *setting = settingByKey(name);
        if (!setting || !setting->inFile)
            return unknownKey(name, path);
        values.insert(name, settings.value(name));
    }
    return values;
}

Error withOrigin(Error error, const QString &origin)
{
    error.message += QLatin1String("; from ") + origin;
    return error;
}

QString listenText(const BrokerConfig &config)
{
    for (const ConfigSetting &setting : configSettings()) {
        if (setting.key == QLatin1String("listen"))
            return setting.describe(config);
    }
    return config.listenHost;
}

// auth = oauth: the settings it cannot work without, in the order they are
// asked for, and the values derived from them, so the daemon gets final ones.
Result<void> completeOAuth(BrokerConfig &config, const QString &authOrigin)
{
    const QList<QPair<QString, const QString *>> required{
        {QStringLiteral("public_url"), &config.publicUrl},
        {QStringLiteral("forgejo_url"), &config.forgejoUrl},
        {QStringLiteral("forgejo_client_id"), &config.forgejoClientId},
        {QStringLiteral("forgejo_client_secret_file"), &config.forgejoClientSecretFile},
    };
    for (const auto &[key, value] : required) {
        if (!value->isEmpty())
            continue;
        const ConfigSetting *setting = settingByKey(key);
        return Error{ErrorCode::InvalidArgument, key,
                     QLatin1String("auth: \"oauth\" needs ") + key + QLatin1String(" (--") + setting->flag +
                         QLatin1String("); it can also come from ") + setting->envVar +
                         QLatin1String(" or the config file; for local mode on a loopback address use "
                                       "--auth none; auth from ") +
                         authOrigin};
    }

    // Forgejo's own endpoints (routers/web/web.go, routers/api/v1/api.go);
    // forgejo_url has no trailing slash, and may have a path for a sub-path install.
    if (config.upstreamAuthorizeUrl.isEmpty())
        config.upstreamAuthorizeUrl = config.forgejoUrl + QLatin1String("/login/oauth/authorize");
    if (config.upstreamTokenUrl.isEmpty())
        config.upstreamTokenUrl = config.forgejoUrl + QLatin1String("/login/oauth/access_token");
    if (config.upstreamUserUrl.isEmpty())
        config.upstreamUserUrl = config.forgejoUrl + QLatin1String("/api/v1/user");

    if (config.stateDir.isEmpty()) {
        if (::geteuid() == 0) {
            config.stateDir = QStringLiteral("/var/lib/forgejo-mcp-broker");
        } else {
            // $XDG_DATA_HOME, else ~/.local/share.
            const QString data = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation);
            if (data.isEmpty())
                return Error{ErrorCode::InvalidArgument, QStringLiteral("state_dir"),
                             QStringLiteral("state_dir: no default, because neither XDG_DATA_HOME nor HOME "
                                            "gives a data directory; set --state-dir")};
            config.stateDir = data + QLatin1String("/forgejo-mcp-broker");
        }
    }
    return {};
}

} // namespace

Result<ConfigRequest> parseConfigRequest(const QStringList &args, const QProcessEnvironment &env)
{
    const CommandLine line = parseCommandLine(args);
    ConfigRequest request;
    request.config = BrokerConfig();
    request.help = line.help;
    request.version = line.version;
    if (request.help || request.version)
        return request;
    if (line.error)
        return *line.error;

    QString filePath;
    QVariantHash fileValues;
    if (const ConfigSetting *configSetting = settingByKey(QStringLiteral("config"))) {
        const std::optional<Source> source = pickSource(*configSetting, line, env, {}, {});
        if (source && !source->values.constLast().isEmpty()) {
            filePath = source->values.constLast();
            Result<QVariantHash> file = readConfigFile(filePath);
            if (!file)
                return file.error().subject == configSetting->key ? withOrigin(file.error(), source->origin)
                                                                  : file.error();
            fileValues = std::move(file).value();
        }
    }

    BrokerConfig &config = request.config;
    QHash<QString, QString> origins; // setting key -> where its value came from
    for (const ConfigSetting &setting : configSettings()) {
        const std::optional<Source> source = pickSource(setting, line, env, fileValues, filePath);
        if (!source)
            continue;
        if (const Result<void> applied = setting.apply(config, source->values); !applied)
            return withOrigin(applied.error(), source->origin);
        origins.insert(setting.key, source->origin);
    }

    if (config.childProgram.isEmpty())
        return Error{
            ErrorCode::InvalidArgument, QStringLiteral("child_command"),
            QStringLiteral("child_command is required: give the stdio MCP server to run with "
                           "--child-command, FMB_CHILD_COMMAND or child_command in the config file")};
    // Without authentication anyone who can reach the port drives the child with
    // its credentials, so that is only allowed where only this host can reach it.
    if (config.authMode == AuthMode::None && !isLoopbackHost(config.listenHost)) {
        const QString defaultOrigin = QStringLiteral("the default");
        return Error{
            ErrorCode::InvalidArgument, QStringLiteral("auth"),
            QLatin1String("auth: \"none\" is refused when listening on ") + quoted(listenText(config)) +
                QLatin1String(", which is not a loopback address (127.0.0.0/8, ::1 or localhost); "
                              "listen on one of those or use --auth oauth; auth from ") +
                origins.value(QStringLiteral("auth"), defaultOrigin) + QLatin1String(", listen from ") +
                origins.value(QStringLiteral("listen"), defaultOrigin)};
    }
    // With auth = none the OAuth settings may be set (one file for both modes);
    // they are neither checked further nor derived.
    if (config.authMode == AuthMode::OAuth) {
        if (const Result<void> completed =
                completeOAuth(config, origins.value(QStringLiteral("auth"), QStringLiteral("the default")));
            !completed)
            return completed.error();
    }
    return request;
}

Result<BrokerConfig> loadConfig(const QStringList &args, const QProcessEnvironment &env)
{
    Result<ConfigRequest> request = parseConfigRequest(args, env);
    if (!request)
        return request.error();
    if (request.value().help)
        return Error{ErrorCode::InvalidArgument, QStringLiteral("help"),
                     QStringLiteral("help: --help was given; use parseConfigRequest() to honour it")};
    if (request.value().version)
        return Error{ErrorCode::InvalidArgument, QStringLiteral("version"),
                     QStringLiteral("version: --version was given; use parseConfigRequest() to honour it")};
    return std::move(request).value().config;
}

QString configHelpText()
{
    const BrokerConfig defaults = BrokerConfig();
    const QString indent = QStringLiteral("      ");
    QString text =
        QStringLiteral("Usage: forgejo-mcp-brokerd [OPTIONS]\n"
                       "\n"
                       "Runs one stdio MCP server (the child) per client session and serves the\n"
                       "sessions over MCP Streamable HTTP.\n"
                       "\n"
                       "Each setting comes from its flag, else its FMB_* environment variable, else its\n"
                       "key in the --config file, else the default. A list takes all of its entries\n"
                       "from that one source.\n"
                       "\n"
                       "Options:\n");
    for (const ConfigSetting &setting : configSettings()) {
        text += QLatin1String("  --") + setting.flag;
        if (!isSwitch(setting))
            text += QLatin1Char(' ') + setting.valueName;
        if (setting.list)
            text += QLatin1String("  (repeatable)");
        text += QLatin1Char('\n');
        const QStringList helpLines = setting.help.split(QLatin1Char('\n'));
        for (const QString &helpLine : helpLines)
            text += indent + helpLine + QLatin1Char('\n');
        text += indent;
        if (setting.inFile)
            text += QLatin1String("INI key ") + setting.key + QLatin1String("; ");
        text += QLatin1String("env ") + setting.envVar + QLatin1String("; default ") +
                setting.describe(defaults).replace(QLatin1Char('\n'), QLatin1Char('\n') + indent) +
                QLatin1Char('\n');
    }
    text += QStringLiteral("  -h, --help\n"
                           "      Print this help and exit.\n"
                           "  --version\n"
                           "      Print the version and exit.\n"
                           "\n"
                           "DURATION: a number of seconds, or a number with a unit: 500ms, 900s, 15m, 1h\n"
                           "(there is no day unit: 30 days is 720h).\n"
                           "SIZE: a number of bytes, or a number with a unit: 512KiB, 4MiB, 1GiB.\n");
    return text;
}

} // namespace fmb
