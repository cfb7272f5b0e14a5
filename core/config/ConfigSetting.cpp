#include "ConfigSetting.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <sys/un.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QUrl>

namespace fmb {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr qint64 KiB = 1024;
constexpr qint64 MiB = 1024 * KiB;
constexpr qint64 GiB = 1024 * MiB;
constexpr int MaxSessionsLimit = 100000;
constexpr int MaxConnectionsLimit = 1000000;
// Large enough for any sane deployment and small enough that no byte count
// overflows an int-sized buffer API on the way.
constexpr qint64 MaxByteLimit = GiB;
// reap_interval and child_stop_grace drive QTimers, whose interval is an int
// of milliseconds (about 24.8 days); stay well under that.
constexpr milliseconds MaxTimerDuration = hours(24);
constexpr milliseconds MaxIdleTimeout = hours(24 * 30);
// Broker-issued tokens: an access token is a bearer credential that cannot be
// recalled before it expires, so it stays short; a refresh token can be revoked.
constexpr milliseconds MaxAccessTokenTtl = hours(24);
constexpr milliseconds MaxRefreshTokenTtl = hours(24 * 365);

Error invalid(const QString &key, const QString &why)
{
    return Error{ErrorCode::InvalidArgument, key, key + QLatin1String(": ") + why};
}

QString quoted(const QString &value)
{
    return QLatin1Char('"') + value + QLatin1Char('"');
}

// A setting whose value is one of a few words, each naming an enum value.
template <typename Enum>
struct Choice {
    const char *word;
    Enum value;
};

template <typename Enum, std::size_t N>
Result<void> applyChoice(const QString &key, const QString &text, const Choice<Enum> (&choices)[N],
                         Enum &field)
{
    QStringList words;
    for (const Choice<Enum> &choice : choices) {
        if (text == QLatin1String(choice.word)) {
            field = choice.value;
            return {};
        }
        words.append(QLatin1String(choice.word));
    }
    return invalid(key, quoted(text) + QLatin1String(" is not one of: ") + words.join(QLatin1String(", ")));
}

template <typename Enum, std::size_t N>
QString describeChoice(const Choice<Enum> (&choices)[N], Enum value)
{
    for (const Choice<Enum> &choice : choices) {
        if (choice.value == value)
            return QLatin1String(choice.word);
    }
    return {};
}

constexpr Choice<AuthMode> AuthChoices[] = {{"none", AuthMode::None}, {"oauth", AuthMode::OAuth}};
constexpr Choice<ChildStdioChoice> ChildStdioChoices[] = {{"auto", ChildStdioChoice::Auto},
                                                          {"pipes", ChildStdioChoice::Pipes},
                                                          {"socket", ChildStdioChoice::Socket}};
// An on/off setting; described by the first word of its value.
constexpr Choice<bool> SwitchChoices[] = {{"true", true}, {"false", false}, {"1", true}, {"0", false}};
constexpr Choice<ChildSandboxMode> ChildSandboxChoices[] = {
    {"auto", ChildSandboxMode::Auto}, {"require", ChildSandboxMode::Require}, {"off", ChildSandboxMode::Off}};
constexpr Choice<EventLoop> EventLoopChoices[] = {{"epoll", EventLoop::Epoll}, {"qt", EventLoop::Qt}};

bool isAsciiDigits(const QString &text)
{
    if (text.isEmpty())
        return false;
    for (const QChar c : text) {
        if (c < QLatin1Char('0') || c > QLatin1Char('9'))
            return false;
    }
    return true;
}

// Digits only: no sign, no spaces, no 0x; at most 12 digits, so it fits a qint64
// even after multiplying by a unit.
std::optional<qint64> parseWholeNumber(const QString &text)
{
    if (!isAsciiDigits(text) || text.size() > 12)
        return std::nullopt;
    return text.toLongLong();
}

// "900", "900s", "15m", "1h", "500ms". A plain number is seconds.
std::optional<milliseconds> parseDuration(const QString &text)
{
    static const QRegularExpression pattern(QStringLiteral("^([0-9]{1,12})(ms|s|m|h)?$"));
    const QRegularExpressionMatch match = pattern.match(text);
    if (!match.hasMatch())
        return std::nullopt;
    const qint64 number = match.captured(1).toLongLong();
    const QString unit = match.captured(2);
    if (unit == QLatin1String("ms"))
        return milliseconds(number);
    if (unit == QLatin1String("m"))
        return minutes(number);
    if (unit == QLatin1String("h"))
        return hours(number);
    return seconds(number);
}

QString formatDuration(milliseconds duration)
{
    const qint64 ms = duration.count();
    if (ms > 0 && ms % 3600000 == 0)
        return QString::number(ms / 3600000) + QLatin1Char('h');
    if (ms > 0 && ms % 60000 == 0)
        return QString::number(ms / 60000) + QLatin1Char('m');
    if (ms % 1000 == 0)
        return QString::number(ms / 1000) + QLatin1Char('s');
    return QString::number(ms) + QLatin1String("ms");
}

Result<milliseconds> durationValue(const QString &key, const QString &text, const QString &example,
                                   milliseconds max)
{
    const std::optional<milliseconds> duration = parseDuration(text);
    if (!duration)
        return invalid(key,
                       quoted(text) + QLatin1String(" is not a duration (try ") + example + QLatin1Char(')'));
    if (duration->count() <= 0)
        return invalid(key, quoted(text) + QLatin1String(" is not more than 0 (try ") + example +
                                QLatin1Char(')'));
    if (*duration > max)
        return invalid(key,
                       quoted(text) + QLatin1String(" is more than the limit of ") + formatDuration(max));
    return *duration;
}

// Whole seconds, rounded up: "500ms" is one second, never zero.
Result<seconds> secondsValue(const QString &key, const QString &text, const QString &example,
                             milliseconds max)
{
    Result<milliseconds> duration = durationValue(key, text, example, max);
    if (!duration)
        return duration.error();
    return std::chrono::ceil<seconds>(duration.value());
}

// "4194304", "512KiB", "4MiB", "1GiB" (binary units only: "4MB" is refused
// rather than guessed).
std::optional<qint64> parseSize(const QString &text)
{
    static const QRegularExpression pattern(QStringLiteral("^([0-9]{1,12}) ?(B|KiB|MiB|GiB)?$"));
    const QRegularExpressionMatch match = pattern.match(text);
    if (!match.hasMatch())
        return std::nullopt;
    const qint64 number = match.captured(1).toLongLong();
    const QString unit = match.captured(2);
    if (unit == QLatin1String("KiB"))
        return number * KiB;
    if (unit == QLatin1String("MiB"))
        return number * MiB;
    if (unit == QLatin1String("GiB"))
        return number * GiB;
    return number;
}

QString formatSize(qint64 bytes)
{
    if (bytes > 0 && bytes % GiB == 0)
        return QString::number(bytes / GiB) + QLatin1String("GiB");
    if (bytes > 0 && bytes % MiB == 0)
        return QString::number(bytes / MiB) + QLatin1String("MiB");
    if (bytes > 0 && bytes % KiB == 0)
        return QString::number(bytes / KiB) + QLatin1String("KiB");
    return QString::number(bytes);
}

Result<qint64> sizeValue(const QString &key, const QString &text, const QString &example)
{
    const std::optional<qint64> size = parseSize(text);
    if (!size)
        return invalid(key, quoted(text) + QLatin1String(" is not a size in bytes (try ") + example +
                                QLatin1Char(')'));
    if (*size < 1 || *size > MaxByteLimit)
        return invalid(key, quoted(text) + QLatin1String(" is not between 1 byte and ") +
                                formatSize(MaxByteLimit));
    return *size;
}

// An RFC 1123 host name or a dotted IPv4 address.
bool isHostName(const QString &host)
{
    static const QRegularExpression label(QStringLiteral("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"));
    if (host.isEmpty() || host.size() > 253)
        return false;
    static const QRegularExpression numeric(QStringLiteral("^[0-9.]+$"));
    if (numeric.match(host).hasMatch()) {
        QHostAddress address;
        return address.setAddress(host) && address.protocol() == QAbstractSocket::IPv4Protocol;
    }
    const QStringList labels = host.split(QLatin1Char('.'));
    for (const QString &part : labels) {
        if (!label.match(part).hasMatch())
            return false;
    }
    return true;
}

QString hostPort(const QString &host, int port)
{
    const QString shownHost =
        host.contains(QLatin1Char(':')) ? QLatin1Char('[') + host + QLatin1Char(']') : host;
    return shownHost + QLatin1Char(':') + QString::number(port);
}

// The text with everything between "://" and the last '@' replaced by "***",
// for error messages: "https://me:pw@host" carries a password, and a password
// may itself hold '/', '?' or '#', so the authority cannot be found reliably.
// Hiding part of a path that contains '@' is the lesser harm.
QString withoutUserInfo(const QString &text)
{
    const qsizetype scheme = text.indexOf(QLatin1String("://"));
    const qsizetype start = scheme < 0 ? 0 : scheme + 3;
    const qsizetype at = text.lastIndexOf(QLatin1Char('@'));
    if (at < start)
        return text;
    return text.left(start) + QLatin1String("***") + text.mid(at);
}

// http or https, a host, no user info, no query, no fragment.
std::optional<QString> webUrlProblem(const QUrl &url)
{
    if (!url.isValid() || (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")) ||
        url.host().isEmpty())
        return QStringLiteral("is not an http:// or https:// URL with a host");
    if (!url.userInfo().isEmpty())
        return QStringLiteral("must not contain a user name or password");
    if (url.hasQuery() || url.hasFragment())
        return QStringLiteral("must not have a query (?) or fragment (#)");
    return std::nullopt;
}

// --- one apply/describe pair per setting -----------------------------------

Result<void> applyConfigFile(BrokerConfig &config, const QStringList &values)
{
    config.configFile = values.constLast();
    return {};
}

QString describeConfigFile(const BrokerConfig &)
{
    return QStringLiteral("none");
}

Result<void> applyListen(BrokerConfig &config, const QStringList &values)
{
    const QString key = QStringLiteral("listen");
    const QString &text = values.constLast();
    QString host;
    QString portText;
    if (text.startsWith(QLatin1Char('['))) {
        const qsizetype close = text.indexOf(QLatin1Char(']'));
        if (close < 0 || text.mid(close + 1, 1) != QLatin1String(":"))
            return invalid(key, quoted(text) + QLatin1String(" is not HOST:PORT (try [::1]:8080)"));
        host = text.mid(1, close - 1);
        portText = text.mid(close + 2);
        QHostAddress address;
        if (!address.setAddress(host) || address.protocol() != QAbstractSocket::IPv6Protocol)
            return invalid(key, quoted(text) + QLatin1String(": ") + quoted(host) +
                                    QLatin1String(" is not an IPv6 address"));
    } else {
        const qsizetype colon = text.lastIndexOf(QLatin1Char(':'));
        if (colon < 0)
            return invalid(key, quoted(text) +
                                    QLatin1String(" is not HOST:PORT (try 127.0.0.1:8080, [::1]:8080 or "
                                                  "localhost:0)"));
        host = text.left(colon);
        portText = text.mid(colon + 1);
        if (host.contains(QLatin1Char(':')))
            return invalid(key, quoted(text) + QLatin1String(" needs brackets around an IPv6 address "
                                                             "(try [::1]:8080)"));
        if (!isHostName(host))
            return invalid(key, quoted(text) + QLatin1String(": ") + quoted(host) +
                                    QLatin1String(" is not a host name or IPv4 address"));
    }
    const std::optional<qint64> port = parseWholeNumber(portText);
    if (!port || *port > 65535)
        return invalid(key, quoted(text) + QLatin1String(": port ") + quoted(portText) +
                                QLatin1String(" is not a whole number between 0 and 65535"));
    config.listenHost = host;
    config.listenPort = static_cast<quint16>(*port);
    return {};
}

QString describeListen(const BrokerConfig &config)
{
    return hostPort(config.listenHost, config.listenPort);
}

Result<void> applyAuth(BrokerConfig &config, const QStringList &values)
{
    return applyChoice(QStringLiteral("auth"), values.constLast(), AuthChoices, config.authMode);
}

QString describeAuth(const BrokerConfig &config)
{
    return describeChoice(AuthChoices, config.authMode);
}

Result<void> applyChildCommand(BrokerConfig &config, const QStringList &values)
{
    // The command line may carry a secret (a token as an argument), so it is
    // never quoted back.
    QStringList words = QProcess::splitCommand(values.constLast());
    if (words.isEmpty())
        return Error{ErrorCode::InvalidArgument, QStringLiteral("child_command"),
                     QStringLiteral("child_command is required but empty")};
    config.childProgram = words.takeFirst();
    config.childArguments = words;
    return {};
}

QString describeChildCommand(const BrokerConfig &config)
{
    return config.childProgram.isEmpty() ? QStringLiteral("none (required)") : config.childProgram;
}

Result<void> applyChildEnv(BrokerConfig &config, const QStringList &values)
{
    // Values are secrets (upstream tokens): errors name the entry by position,
    // and print NAME only once it is known to be a valid name.
    static const QRegularExpression name(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]*$"));
    const QString key = QStringLiteral("child_env");
    QList<QPair<QString, QString>> entries;
    QSet<QString> seen;
    for (qsizetype i = 0; i < values.size(); ++i) {
        const QString &entry = values.at(i);
        const QString position = QLatin1String("entry ") + QString::number(i + 1);
        const qsizetype equals = entry.indexOf(QLatin1Char('='));
        if (equals < 0)
            return invalid(key, position + QLatin1String(" has no \"=\" (want NAME=VALUE; the value is not "
                                                         "shown)"));
        const QString variable = entry.left(equals);
        if (!name.match(variable).hasMatch())
            return invalid(key, position + QLatin1String(" does not start with a NAME matching "
                                                         "[A-Za-z_][A-Za-z0-9_]* followed by \"=\" (the "
                                                         "entry is not shown)"));
        if (seen.contains(variable))
            return invalid(key, variable + QLatin1String(" is given more than once"));
        seen.insert(variable);
        entries.append({variable, entry.mid(equals + 1)});
    }
    config.childEnv = entries;
    return {};
}

QString describeChildEnv(const BrokerConfig &config)
{
    if (config.childEnv.isEmpty())
        return QStringLiteral("none");
    QStringList names;
    for (const auto &entry : config.childEnv)
        names.append(entry.first + QLatin1String("=..."));
    return names.join(QLatin1Char(' '));
}

Result<void> applyMaxSessions(BrokerConfig &config, const QStringList &values)
{
    const QString &text = values.constLast();
    const std::optional<qint64> number = parseWholeNumber(text);
    if (!number || *number < 1 || *number > MaxSessionsLimit)
        return invalid(QStringLiteral("max_sessions"),
                       quoted(text) + QLatin1String(" is not a whole number between 1 and ") +
                           QString::number(MaxSessionsLimit));
    config.maxSessions = static_cast<int>(*number);
    return {};
}

QString describeMaxSessions(const BrokerConfig &config)
{
    return QString::number(config.maxSessions);
}

Result<void> applyIdleTimeout(BrokerConfig &config, const QStringList &values)
{
    Result<seconds> value = secondsValue(QStringLiteral("idle_timeout"), values.constLast(),
                                         QStringLiteral("900s or 15m"), MaxIdleTimeout);
    if (!value)
        return value.error();
    config.idleTimeout = value.value();
    return {};
}

QString describeIdleTimeout(const BrokerConfig &config)
{
    return formatDuration(config.idleTimeout);
}

Result<void> applyReapInterval(BrokerConfig &config, const QStringList &values)
{
    Result<seconds> value = secondsValue(QStringLiteral("reap_interval"), values.constLast(),
                                         QStringLiteral("30s or 1m"), MaxTimerDuration);
    if (!value)
        return value.error();
    config.reapInterval = value.value();
    return {};
}

QString describeReapInterval(const BrokerConfig &config)
{
    return formatDuration(config.reapInterval);
}

// Per-session caps (issue 11): a whole number between Min and Max, into one int field.
template <int BrokerConfig::*Field, const char *Key, int Min, int Max>
Result<void> applyCount(BrokerConfig &config, const QStringList &values)
{
    const QString &text = values.constLast();
    const std::optional<qint64> number = parseWholeNumber(text);
    if (!number || *number < Min || *number > Max)
        return invalid(QString::fromLatin1(Key),
                       quoted(text) +
                           QStringLiteral(" is not a whole number between %1 and %2").arg(Min).arg(Max));
    config.*Field = static_cast<int>(*number);
    return {};
}

template <int BrokerConfig::*Field>
QString describeCount(const BrokerConfig &config)
{
    return QString::number(config.*Field);
}

constexpr char MaxBatchMessagesKey[] = "max_batch_messages";
constexpr char MaxPendingRequestsKey[] = "max_pending_requests";
constexpr char MaxSubscriptionsKey[] = "max_subscriptions_per_session";

Result<void> applyAllowedOrigins(BrokerConfig &config, const QStringList &values)
{
    const QString key = QStringLiteral("allowed_origins");
    QStringList origins;
    for (const QString &value : values) {
        const QString text = value.trimmed();
        const QUrl url(text, QUrl::StrictMode);
        if (const std::optional<QString> problem = webUrlProblem(url))
            return invalid(key, quoted(withoutUserInfo(text)) + QLatin1Char(' ') + *problem +
                                    QLatin1String(" (an origin is scheme://host[:port], e.g. "
                                                  "https://example.org)"));
        if (!url.path().isEmpty())
            return invalid(key, quoted(text) + QLatin1String(" has a path; an origin is scheme://host[:port] "
                                                             "only, with no trailing slash"));
        // Browsers leave the default port out of Origin; compare in that form.
        QUrl origin;
        origin.setScheme(url.scheme());
        origin.setHost(url.host());
        const int defaultPort = url.scheme() == QLatin1String("https") ? 443 : 80;
        if (url.port() != -1 && url.port() != defaultPort)
            origin.setPort(url.port());
        const QString normalized = origin.toString(QUrl::FullyEncoded);
        if (!origins.contains(normalized))
            origins.append(normalized);
    }
    config.allowedOrigins = origins;
    return {};
}

QString describeAllowedOrigins(const BrokerConfig &config)
{
    return config.allowedOrigins.isEmpty() ? QStringLiteral("none")
                                           : config.allowedOrigins.join(QLatin1Char(','));
}

Result<void> applyMaxBodyBytes(BrokerConfig &config, const QStringList &values)
{
    Result<qint64> value =
        sizeValue(QStringLiteral("max_body_bytes"), values.constLast(), QStringLiteral("4194304 or 4MiB"));
    if (!value)
        return value.error();
    config.maxBodyBytes = value.value();
    return {};
}

QString describeMaxBodyBytes(const BrokerConfig &config)
{
    return formatSize(config.maxBodyBytes);
}

// "auto" (0 in the config) or a whole number from `min` to MaxConnectionsLimit.
Result<int> connectionCount(const QString &key, const QString &text, int min, bool allowAuto)
{
    if (allowAuto && text == QLatin1String("auto"))
        return 0;
    const std::optional<qint64> number = parseWholeNumber(text);
    if (!number || *number < min || *number > MaxConnectionsLimit)
        return invalid(key, quoted(text) + QLatin1String(" is not ") +
                                (allowAuto ? QLatin1String("\"auto\" or ") : QLatin1String()) +
                                QLatin1String("a whole number between ") + QString::number(min) +
                                QLatin1String(" and ") + QString::number(MaxConnectionsLimit));
    return static_cast<int>(*number);
}

Result<void> applyRequestTimeout(BrokerConfig &config, const QStringList &values)
{
    Result<milliseconds> value = durationValue(QStringLiteral("request_timeout"), values.constLast(),
                                               QStringLiteral("30s or 500ms"), MaxTimerDuration);
    if (!value)
        return value.error();
    config.requestTimeout = value.value();
    return {};
}

QString describeRequestTimeout(const BrokerConfig &config)
{
    return formatDuration(config.requestTimeout);
}

Result<void> applyKeepAliveTimeout(BrokerConfig &config, const QStringList &values)
{
    Result<milliseconds> value = durationValue(QStringLiteral("keepalive_timeout"), values.constLast(),
                                               QStringLiteral("90s or 2m"), MaxTimerDuration);
    if (!value)
        return value.error();
    config.keepAliveTimeout = value.value();
    return {};
}

QString describeKeepAliveTimeout(const BrokerConfig &config)
{
    return formatDuration(config.keepAliveTimeout);
}

Result<void> applyMaxConnections(BrokerConfig &config, const QStringList &values)
{
    Result<int> value = connectionCount(QStringLiteral("max_connections"), values.constLast(), 1, true);
    if (!value)
        return value.error();
    config.maxConnections = value.value();
    return {};
}

QString describeMaxConnections(const BrokerConfig &config)
{
    return config.maxConnections == 0 ? QStringLiteral("auto") : QString::number(config.maxConnections);
}

Result<void> applyMaxConnectionsPerAddress(BrokerConfig &config, const QStringList &values)
{
    Result<int> value =
        connectionCount(QStringLiteral("max_connections_per_address"), values.constLast(), 0, false);
    if (!value)
        return value.error();
    config.maxConnectionsPerAddress = value.value();
    return {};
}

QString describeMaxConnectionsPerAddress(const BrokerConfig &config)
{
    return QString::number(config.maxConnectionsPerAddress);
}

Result<void> applyChildMaxLineBytes(BrokerConfig &config, const QStringList &values)
{
    Result<qint64> value = sizeValue(QStringLiteral("child_max_line_bytes"), values.constLast(),
                                     QStringLiteral("16777216 or 16MiB"));
    if (!value)
        return value.error();
    config.childMaxLineBytes = value.value();
    return {};
}

QString describeChildMaxLineBytes(const BrokerConfig &config)
{
    return formatSize(config.childMaxLineBytes);
}

Result<void> applyChildStopGrace(BrokerConfig &config, const QStringList &values)
{
    Result<milliseconds> value = durationValue(QStringLiteral("child_stop_grace"), values.constLast(),
                                               QStringLiteral("3s or 500ms"), MaxTimerDuration);
    if (!value)
        return value.error();
    config.childStopGrace = value.value();
    return {};
}

QString describeChildStopGrace(const BrokerConfig &config)
{
    return formatDuration(config.childStopGrace);
}

// An http(s) URL without user info, query or fragment, or "" for unset.
// trimSlash drops trailing slashes, for a base URL that paths are appended to.
Result<QString> webUrlValue(const QString &key, const QString &text, const QString &example, bool trimSlash)
{
    if (text.isEmpty())
        return QString();
    const QUrl url(text, QUrl::StrictMode);
    if (const std::optional<QString> problem = webUrlProblem(url))
        return invalid(key, quoted(withoutUserInfo(text)) + QLatin1Char(' ') + *problem +
                                QLatin1String(" (try ") + example + QLatin1Char(')'));
    QString normalized = url.toString(QUrl::FullyEncoded);
    while (trimSlash && normalized.endsWith(QLatin1Char('/')))
        normalized.chop(1);
    return normalized;
}

Result<void> applyPublicUrl(BrokerConfig &config, const QStringList &values)
{
    Result<QString> value = webUrlValue(QStringLiteral("public_url"), values.constLast(),
                                        QStringLiteral("https://mcp.example.org"), true);
    if (!value)
        return value.error();
    config.publicUrl = value.value();
    return {};
}

QString describePublicUrl(const BrokerConfig &config)
{
    return config.publicUrl.isEmpty() ? QStringLiteral("none") : config.publicUrl;
}

Result<void> applyForgejoUrl(BrokerConfig &config, const QStringList &values)
{
    Result<QString> value = webUrlValue(QStringLiteral("forgejo_url"), values.constLast(),
                                        QStringLiteral("https://forge.example.org"), true);
    if (!value)
        return value.error();
    config.forgejoUrl = value.value();
    return {};
}

QString describeForgejoUrl(const BrokerConfig &config)
{
    return config.forgejoUrl.isEmpty() ? QStringLiteral("none") : config.forgejoUrl;
}

Result<void> applyForgejoClientId(BrokerConfig &config, const QStringList &values)
{
    // RFC 6749 appendix A.1: a client_id is VSCHAR, printable ASCII.
    const QString &text = values.constLast();
    for (const QChar c : text) {
        if (c < QLatin1Char(' ') || c > QLatin1Char('~'))
            return invalid(QStringLiteral("forgejo_client_id"),
                           QStringLiteral("has a character that is not printable ASCII (RFC 6749, "
                                          "appendix A.1); copy the client ID from Forgejo again"));
    }
    config.forgejoClientId = text;
    return {};
}

QString describeForgejoClientId(const BrokerConfig &config)
{
    return config.forgejoClientId.isEmpty() ? QStringLiteral("none") : config.forgejoClientId;
}

Result<void> applyForgejoClientSecretFile(BrokerConfig &config, const QStringList &values)
{
    // Only the path: the daemon reads the file, so the secret never passes
    // through flags, the environment or the INI file.
    config.forgejoClientSecretFile = values.constLast();
    return {};
}

QString describeForgejoClientSecretFile(const BrokerConfig &config)
{
    return config.forgejoClientSecretFile.isEmpty() ? QStringLiteral("none") : config.forgejoClientSecretFile;
}

Result<void> applyStateDir(BrokerConfig &config, const QStringList &values)
{
    config.stateDir = values.constLast();
    return {};
}

QString describeStateDir(const BrokerConfig &config)
{
    return config.stateDir.isEmpty()
               ? QStringLiteral("/var/lib/forgejo-mcp-broker when running as root, else\n"
                                "$XDG_DATA_HOME/forgejo-mcp-broker (~/.local/share/...)")
               : config.stateDir;
}

Result<void> applyUpstreamAuthorizeUrl(BrokerConfig &config, const QStringList &values)
{
    Result<QString> value =
        webUrlValue(QStringLiteral("upstream_authorize_url"), values.constLast(),
                    QStringLiteral("https://forge.example.org/login/oauth/authorize"), false);
    if (!value)
        return value.error();
    config.upstreamAuthorizeUrl = value.value();
    return {};
}

QString describeUpstreamAuthorizeUrl(const BrokerConfig &config)
{
    return config.upstreamAuthorizeUrl.isEmpty() ? QStringLiteral("<forgejo_url>/login/oauth/authorize")
                                                 : config.upstreamAuthorizeUrl;
}

Result<void> applyUpstreamTokenUrl(BrokerConfig &config, const QStringList &values)
{
    Result<QString> value =
        webUrlValue(QStringLiteral("upstream_token_url"), values.constLast(),
                    QStringLiteral("https://forge.example.org/login/oauth/access_token"), false);
    if (!value)
        return value.error();
    config.upstreamTokenUrl = value.value();
    return {};
}

QString describeUpstreamTokenUrl(const BrokerConfig &config)
{
    return config.upstreamTokenUrl.isEmpty() ? QStringLiteral("<forgejo_url>/login/oauth/access_token")
                                             : config.upstreamTokenUrl;
}

Result<void> applyUpstreamUserUrl(BrokerConfig &config, const QStringList &values)
{
    Result<QString> value = webUrlValue(QStringLiteral("upstream_user_url"), values.constLast(),
                                        QStringLiteral("https://forge.example.org/api/v1/user"), false);
    if (!value)
        return value.error();
    config.upstreamUserUrl = value.value();
    return {};
}

QString describeUpstreamUserUrl(const BrokerConfig &config)
{
    return config.upstreamUserUrl.isEmpty() ? QStringLiteral("<forgejo_url>/api/v1/user")
                                            : config.upstreamUserUrl;
}

Result<void> applyTokenEnv(BrokerConfig &config, const QStringList &values)
{
    static const QRegularExpression name(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]*$"));
    const QString &text = values.constLast();
    if (!name.match(text).hasMatch())
        return invalid(QStringLiteral("token_env"),
                       quoted(text) + QLatin1String(" is not an environment variable name matching "
                                                    "[A-Za-z_][A-Za-z0-9_]* (try FORGEJO_ACCESS_TOKEN)"));
    config.tokenEnv = text;
    return {};
}

QString describeTokenEnv(const BrokerConfig &config)
{
    return config.tokenEnv;
}

Result<void> applyMaxSessionsPerUser(BrokerConfig &config, const QStringList &values)
{
    const QString &text = values.constLast();
    const std::optional<qint64> number = parseWholeNumber(text);
    if (!number || *number > MaxSessionsLimit)
        return invalid(QStringLiteral("max_sessions_per_user"),
                       quoted(text) + QLatin1String(" is not a whole number between 0 and ") +
                           QString::number(MaxSessionsLimit));
    config.maxSessionsPerUser = static_cast<int>(*number);
    return {};
}

QString describeMaxSessionsPerUser(const BrokerConfig &config)
{
    return QString::number(config.maxSessionsPerUser);
}

Result<void> applyRotateInterval(BrokerConfig &config, const QStringList &values)
{
    Result<seconds> value = secondsValue(QStringLiteral("rotate_interval"), values.constLast(),
                                         QStringLiteral("60s or 1m"), MaxTimerDuration);
    if (!value)
        return value.error();
    config.rotateInterval = value.value();
    return {};
}

QString describeRotateInterval(const BrokerConfig &config)
{
    return formatDuration(config.rotateInterval);
}

Result<void> applyRefreshLead(BrokerConfig &config, const QStringList &values)
{
    Result<seconds> value = secondsValue(QStringLiteral("refresh_lead"), values.constLast(),
                                         QStringLiteral("300s or 5m"), MaxTimerDuration);
    if (!value)
        return value.error();
    config.refreshLead = value.value();
    return {};
}

QString describeRefreshLead(const BrokerConfig &config)
{
    return formatDuration(config.refreshLead);
}

Result<void> applyAccessTokenTtl(BrokerConfig &config, const QStringList &values)
{
    Result<seconds> value = secondsValue(QStringLiteral("access_token_ttl"), values.constLast(),
                                         QStringLiteral("3600s or 1h"), MaxAccessTokenTtl);
    if (!value)
        return value.error();
    config.accessTokenTtl = value.value();
    return {};
}

QString describeAccessTokenTtl(const BrokerConfig &config)
{
    return formatDuration(config.accessTokenTtl);
}

Result<void> applyRefreshTokenTtl(BrokerConfig &config, const QStringList &values)
{
    // DURATION has no day unit, so the example spells 30 days in hours.
    Result<seconds> value = secondsValue(QStringLiteral("refresh_token_ttl"), values.constLast(),
                                         QStringLiteral("720h for 30 days"), MaxRefreshTokenTtl);
    if (!value)
        return value.error();
    config.refreshTokenTtl = value.value();
    return {};
}

QString describeRefreshTokenTtl(const BrokerConfig &config)
{
    return formatDuration(config.refreshTokenTtl);
}

Result<void> applyMetadataAllowPrivateHosts(BrokerConfig &config, const QStringList &values)
{
    // The bare flag arrives as "true" (see the switch rule in ConfigLoader.cpp).
    return applyChoice(QStringLiteral("metadata_allow_private_hosts"), values.constLast(), SwitchChoices,
                       config.metadataAllowPrivateHosts);
}

QString describeMetadataAllowPrivateHosts(const BrokerConfig &config)
{
    return describeChoice(SwitchChoices, config.metadataAllowPrivateHosts);
}

// A whole number from 0 to `max` for an int setting.
Result<void> applyCount(const QString &key, const QString &text, int max, int &field)
{
    const std::optional<qint64> number = parseWholeNumber(text);
    if (!number || *number > max)
        return invalid(key, quoted(text) + QLatin1String(" is not a whole number between 0 and ") +
                                QString::number(max));
    field = static_cast<int>(*number);
    return {};
}

Result<void> applyRegisterRate(BrokerConfig &config, const QStringList &values)
{
    return applyCount(QStringLiteral("register_rate"), values.constLast(), 100000, config.registerRate);
}

QString describeRegisterRate(const BrokerConfig &config)
{
    return QString::number(config.registerRate);
}

Result<void> applyMaxPendingClients(BrokerConfig &config, const QStringList &values)
{
    return applyCount(QStringLiteral("max_pending_clients"), values.constLast(), 1000000,
                      config.maxPendingClients);
}

QString describeMaxPendingClients(const BrokerConfig &config)
{
    return QString::number(config.maxPendingClients);
}

Result<void> applyPendingClientTtl(BrokerConfig &config, const QStringList &values)
{
    Result<seconds> value = secondsValue(QStringLiteral("pending_client_ttl"), values.constLast(),
                                         QStringLiteral("3600s or 1h"), MaxRefreshTokenTtl);
    if (!value)
        return value.error();
    config.pendingClientTtl = value.value();
    return {};
}

QString describePendingClientTtl(const BrokerConfig &config)
{
    return formatDuration(config.pendingClientTtl);
}

Result<void> applyMaxRegistrationBytes(BrokerConfig &config, const QStringList &values)
{
    // The OAuth endpoints read at most 64 KiB of any body.
    constexpr qint64 Max = 64 * KiB;
    const QString key = QStringLiteral("max_registration_bytes");
    Result<qint64> value = sizeValue(key, values.constLast(), QStringLiteral("8KiB"));
    if (!value)
        return value.error();
    if (value.value() > Max)
        return invalid(key, quoted(values.constLast()) + QLatin1String(" is more than the limit of ") +
                                formatSize(Max));
    config.maxRegistrationBytes = value.value();
    return {};
}

QString describeMaxRegistrationBytes(const BrokerConfig &config)
{
    return formatSize(config.maxRegistrationBytes);
}

Result<void> applyAdminSocket(BrokerConfig &config, const QStringList &values)
{
    const QString &text = values.constLast();
    if (text.isEmpty()) {
        config.adminSocket.clear(); // the default under the runtime directory
        return {};
    }
    // Relative to the working directory at start (QLocalServer would take a
    // name without a slash as one in the temp directory).
    const QString path = QDir::cleanPath(QFileInfo(text).absoluteFilePath());
    // A Unix socket address holds at most sizeof(sun_path) - 1 bytes, and
    // QLocalServer first binds a temporary name in the same directory
    // ("<dir>/.XXXXXX/s", then renamed): both must fit, or listen() fails
    // with "Name error".
    constexpr qsizetype MaxBytes = qsizetype(sizeof(sockaddr_un::sun_path)) - 1;
    const qsizetype bytes = QFile::encodeName(path).size();
    const qsizetype temporaryBytes = QFile::encodeName(QFileInfo(path).absolutePath()).size() + 10;
    if (const qsizetype needed = std::max(bytes, temporaryBytes); needed > MaxBytes) {
        return invalid(QStringLiteral("admin_socket"),
                       quoted(path) +
                           QStringLiteral(" is too long for a Unix socket address (needs %1 bytes, "
                                          "at most %2): choose a shorter path")
                               .arg(needed)
                               .arg(MaxBytes));
    }
    config.adminSocket = path;
    return {};
}

QString describeAdminSocket(const BrokerConfig &config)
{
    return config.adminSocket.isEmpty() ? QStringLiteral("a socket in the runtime directory")
                                        : config.adminSocket;
}

Result<void> applyChildStdio(BrokerConfig &config, const QStringList &values)
{
    return applyChoice(QStringLiteral("child_stdio"), values.constLast(), ChildStdioChoices,
                       config.childStdio);
}

QString describeChildStdio(const BrokerConfig &config)
{
    return describeChoice(ChildStdioChoices, config.childStdio);
}

Result<void> applyChildPassEnv(BrokerConfig &config, const QStringList &values)
{
    static const QRegularExpression name(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]*$"));
    const QString key = QStringLiteral("child_pass_env");
    QStringList names;
    for (const QString &value : values) {
        const QString text = value.trimmed();
        if (!name.match(text).hasMatch())
            return invalid(key, quoted(text) + QLatin1String(" is not an environment variable name matching "
                                                             "[A-Za-z_][A-Za-z0-9_]*"));
        // The broker's own settings may hold secrets (child_env values).
        if (text.startsWith(QLatin1String("FMB_")))
            return invalid(key, text + QLatin1String(" is one of the broker's own settings (FMB_*), which "
                                                     "children never get; use child_env for a value"));
        if (!names.contains(text))
            names.append(text);
    }
    config.childPassEnv = names;
    return {};
}

QString describeChildPassEnv(const BrokerConfig &config)
{
    return config.childPassEnv.isEmpty() ? QStringLiteral("none")
                                         : config.childPassEnv.join(QLatin1Char(','));
}

Result<void> applyChildSandbox(BrokerConfig &config, const QStringList &values)
{
    return applyChoice(QStringLiteral("child_sandbox"), values.constLast(), ChildSandboxChoices,
                       config.childSandbox);
}

QString describeChildSandbox(const BrokerConfig &config)
{
    return describeChoice(ChildSandboxChoices, config.childSandbox);
}

// Absolute paths only: a relative one would depend on the daemon's working
// directory. Existence is checked when the daemon builds the sandbox.
Result<void> applyAbsolutePaths(const QString &key, const QStringList &values, QStringList &field)
{
    QStringList paths;
    for (const QString &value : values) {
        const QString text = value.trimmed();
        if (!QDir::isAbsolutePath(text))
            return invalid(key, quoted(text) + QLatin1String(" is not an absolute path"));
        const QString clean = QDir::cleanPath(text);
        if (!paths.contains(clean))
            paths.append(clean);
    }
    field = paths;
    return {};
}

QString describeExtraPaths(const QStringList &paths)
{
    return paths.isEmpty() ? QStringLiteral("none beyond the defaults") : paths.join(QLatin1Char(','));
}

Result<void> applyChildAllowRead(BrokerConfig &config, const QStringList &values)
{
    return applyAbsolutePaths(QStringLiteral("child_allow_read"), values, config.childAllowRead);
}

QString describeChildAllowRead(const BrokerConfig &config)
{
    return describeExtraPaths(config.childAllowRead);
}

Result<void> applyChildAllowWrite(BrokerConfig &config, const QStringList &values)
{
    return applyAbsolutePaths(QStringLiteral("child_allow_write"), values, config.childAllowWrite);
}

QString describeChildAllowWrite(const BrokerConfig &config)
{
    return describeExtraPaths(config.childAllowWrite);
}

Result<void> applyEventLoop(BrokerConfig &config, const QStringList &values)
{
    return applyChoice(QStringLiteral("event_loop"), values.constLast(), EventLoopChoices, config.eventLoop);
}

QString describeEventLoop(const BrokerConfig &config)
{
    return describeChoice(EventLoopChoices, config.eventLoop);
}

QList<ConfigSetting> buildSettings()
{
    return {
        {
            .key = QStringLiteral("config"),
            .flag = QStringLiteral("config"),
            .envVar = QStringLiteral("FMB_CONFIG"),
            .valueName = QStringLiteral("FILE"),
            .help = QStringLiteral("INI file to read the settings below from (keys at the top level,\n"
                                   "before any [section]; quote values containing , ; or \\)."),
            .inFile = false,
            .apply = applyConfigFile,
            .describe = describeConfigFile,
        },
        {
            .key = QStringLiteral("listen"),
            .flag = QStringLiteral("listen"),
            .envVar = QStringLiteral("FMB_LISTEN"),
            .valueName = QStringLiteral("HOST:PORT"),
            .help = QStringLiteral("Address to serve /mcp on; port 0 picks a free port; IPv6 as [::1]:8080."),
            .apply = applyListen,
            .describe = describeListen,
        },
        {
            .key = QStringLiteral("auth"),
            .flag = QStringLiteral("auth"),
            .envVar = QStringLiteral("FMB_AUTH"),
            .valueName = QStringLiteral("none|oauth"),
            .help = QStringLiteral("How MCP clients authenticate. \"oauth\": the broker is their OAuth 2.1\n"
                                   "server and signs users in with Forgejo; needs public_url,\n"
                                   "forgejo_url, forgejo_client_id and forgejo_client_secret_file.\n"
                                   "\"none\" (local mode) is allowed only on a loopback address\n"
                                   "(127.0.0.0/8, ::1, localhost)."),
            .apply = applyAuth,
            .describe = describeAuth,
        },
        {
            .key = QStringLiteral("child_command"),
            .flag = QStringLiteral("child-command"),
            .envVar = QStringLiteral("FMB_CHILD_COMMAND"),
            .valueName = QStringLiteral("\"CMD ARGS\""),
            .help = QStringLiteral("The stdio MCP server started for each session; split into words\n"
                                   "like a shell does (double quotes group). Required."),
            .apply = applyChildCommand,
            .describe = describeChildCommand,
        },
        {
            .key = QStringLiteral("child_env"),
            .flag = QStringLiteral("child-env"),
            .envVar = QStringLiteral("FMB_CHILD_ENV"),
            .valueName = QStringLiteral("NAME=VALUE"),
            .help = QStringLiteral("Extra environment variable for the child. The variable takes one\n"
                                   "entry per line. Values are secrets and are never printed."),
            .list = true,
            .envSeparator = QLatin1Char('\n'),
            .apply = applyChildEnv,
            .describe = describeChildEnv,
        },
        {
            .key = QStringLiteral("max_sessions"),
            .flag = QStringLiteral("max-sessions"),
            .envVar = QStringLiteral("FMB_MAX_SESSIONS"),
            .valueName = QStringLiteral("N"),
            .help = QStringLiteral("Most sessions (children) alive at once, 1 to 100000. The open-file\n"
                                   "limit caps it too: each session holds 4 descriptors, and the daemon\n"
                                   "answers 503 beyond what the limit has room for (logged at start)."),
            .apply = applyMaxSessions,
            .describe = describeMaxSessions,
        },
        {
            .key = QStringLiteral("idle_timeout"),
            .flag = QStringLiteral("idle-timeout"),
            .envVar = QStringLiteral("FMB_IDLE_TIMEOUT"),
            .valueName = QStringLiteral("DURATION"),
            .help = QStringLiteral("A session unused this long is ended (whole seconds, rounded up)."),
            .apply = applyIdleTimeout,
            .describe = describeIdleTimeout,
        },
        {
            .key = QStringLiteral("reap_interval"),
            .flag = QStringLiteral("reap-interval"),
            .envVar = QStringLiteral("FMB_REAP_INTERVAL"),
            .valueName = QStringLiteral("DURATION"),
            .help = QStringLiteral("How often idle sessions are looked for (whole seconds, rounded up)."),
            .apply = applyReapInterval,
            .describe = describeReapInterval,
        },
        {
            .key = QStringLiteral("max_batch_messages"),
            .flag = QStringLiteral("max-batch-messages"),
            .envVar = QStringLiteral("FMB_MAX_BATCH_MESSAGES"),
            .valueName = QStringLiteral("N"),
            .help = QStringLiteral("Most JSON-RPC messages in one POSTed batch, 1 to 100000; a larger\n"
                                   "batch is refused whole (400, -32600)."),
            .apply = applyCount<&BrokerConfig::maxBatchMessages, MaxBatchMessagesKey, 1, 100000>,
            .describe = describeCount<&BrokerConfig::maxBatchMessages>,
        },
        {
            .key = QStringLiteral("max_pending_requests"),
            .flag = QStringLiteral("max-pending-requests"),
            .envVar = QStringLiteral("FMB_MAX_PENDING_REQUESTS"),
            .valueName = QStringLiteral("N"),
            .help = QStringLiteral("Most requests of one session awaiting their answer, 1 to 100000;\n"
                                   "one more is answered with error -32003."),
            .apply = applyCount<&BrokerConfig::maxPendingRequests, MaxPendingRequestsKey, 1, 100000>,
            .describe = describeCount<&BrokerConfig::maxPendingRequests>,
        },
        {
            .key = QStringLiteral("max_subscriptions_per_session"),
            .flag = QStringLiteral("max-subscriptions-per-session"),
            .envVar = QStringLiteral("FMB_MAX_SUBSCRIPTIONS_PER_SESSION"),
            .valueName = QStringLiteral("N"),
            .help = QStringLiteral("Most resources one session subscribes to, 1 to 1000000; a\n"
                                   "resources/subscribe beyond is answered with error -32003."),
            .apply = applyCount<&BrokerConfig::maxSubscriptionsPerSession, MaxSubscriptionsKey, 1, 1000000>,
            .describe = describeCount<&BrokerConfig::maxSubscriptionsPerSession>,
        },
        {
            .key = QStringLiteral("allowed_origins"),
            .flag = QStringLiteral("allowed-origin"),
            .envVar = QStringLiteral("FMB_ALLOWED_ORIGINS"),
            .valueName = QStringLiteral("ORIGIN"),
            .help = QStringLiteral("Browser Origin allowed to call /mcp, as scheme://host[:port].\n"
                                   "The variable takes a comma-separated list."),
            .list = true,
            .envSeparator = QLatin1Char(','),
            .apply = applyAllowedOrigins,
            .describe = describeAllowedOrigins,
        },
        {
            .key = QStringLiteral("max_body_bytes"),
            .flag = QStringLiteral("max-body-bytes"),
            .envVar = QStringLiteral("FMB_MAX_BODY_BYTES"),
            .valueName = QStringLiteral("SIZE"),
            .help =
                QStringLiteral("Largest POST /mcp body accepted: 413 as soon as Content-Length or\n"
                               "the bytes received exceed it. A request head is limited to 64 KiB (431)."),
            .apply = applyMaxBodyBytes,
            .describe = describeMaxBodyBytes,
        },
        {
            .key = QStringLiteral("request_timeout"),
            .flag = QStringLiteral("request-timeout"),
            .envVar = QStringLiteral("FMB_REQUEST_TIMEOUT"),
            .valueName = QStringLiteral("DURATION"),
            .help = QStringLiteral("A request must arrive whole within this (408 and close); the first\n"
                                   "request of a connection counts from accept, so a connection that\n"
                                   "sends nothing is closed after it too."),
            .apply = applyRequestTimeout,
            .describe = describeRequestTimeout,
        },
        {
            .key = QStringLiteral("keepalive_timeout"),
            .flag = QStringLiteral("keepalive-timeout"),
            .envVar = QStringLiteral("FMB_KEEPALIVE_TIMEOUT"),
            .valueName = QStringLiteral("DURATION"),
            .help = QStringLiteral("A kept-alive connection with no request in flight is closed after\n"
                                   "this. SSE streams and requests waiting for an answer are never idle."),
            .apply = applyKeepAliveTimeout,
            .describe = describeKeepAliveTimeout,
        },
        {
            .key = QStringLiteral("max_connections"),
            .flag = QStringLiteral("max-connections"),
            .envVar = QStringLiteral("FMB_MAX_CONNECTIONS"),
            .valueName = QStringLiteral("N"),
            .help = QStringLiteral("Most client connections open at once, or \"auto\": an eighth of the\n"
                                   "open-file limit (the share it reserves for connections). At the cap\n"
                                   "a new connection replaces the one idle longest, or gets 503."),
            .apply = applyMaxConnections,
            .describe = describeMaxConnections,
        },
        {
            .key = QStringLiteral("max_connections_per_address"),
            .flag = QStringLiteral("max-connections-per-address"),
            .envVar = QStringLiteral("FMB_MAX_CONNECTIONS_PER_ADDRESS"),
            .valueName = QStringLiteral("N"),
            .help = QStringLiteral("Most connections from one client address (0 = no such cap). At the\n"
                                   "cap a new one replaces that address's idlest, or gets 503."),
            .apply = applyMaxConnectionsPerAddress,
            .describe = describeMaxConnectionsPerAddress,
        },
        {
            .key = QStringLiteral("child_max_line_bytes"),
            .flag = QStringLiteral("child-max-line-bytes"),
            .envVar = QStringLiteral("FMB_CHILD_MAX_LINE_BYTES"),
            .valueName = QStringLiteral("SIZE"),
            .help = QStringLiteral("Longest line (one JSON-RPC message) accepted from the child. Longer\n"
                                   "lines are dropped with a warning, lines that are not JSON-RPC with a\n"
                                   "rate-limited one (10 at once, then 1 a second and a count)."),
            .apply = applyChildMaxLineBytes,
            .describe = describeChildMaxLineBytes,
        },
        {
            .key = QStringLiteral("child_stop_grace"),
            .flag = QStringLiteral("child-stop-grace"),
            .envVar = QStringLiteral("FMB_CHILD_STOP_GRACE"),
            .valueName = QStringLiteral("DURATION"),
            .help = QStringLiteral("Wait after closing the child's stdin before SIGTERM, and again\n"
                                   "before SIGKILL."),
            .apply = applyChildStopGrace,
            .describe = describeChildStopGrace,
        },
        {
            .key = QStringLiteral("child_stdio"),
            .flag = QStringLiteral("child-stdio"),
            .envVar = QStringLiteral("FMB_CHILD_STDIO"),
            .valueName = QStringLiteral("auto|pipes|socket"),
            .help = QStringLiteral("How the child's stdin and stdout are connected: \"pipes\" (4\n"
                                   "descriptors per session, the fastest), \"socket\" (one Unix socket\n"
                                   "for both: 3 descriptors, so more sessions fit under the open-file\n"
                                   "limit), or \"auto\": pipes unless max_sessions fits only with the\n"
                                   "socket."),
            .apply = applyChildStdio,
            .describe = describeChildStdio,
        },
        {
            .key = QStringLiteral("child_pass_env"),
            .flag = QStringLiteral("child-pass-env"),
            .envVar = QStringLiteral("FMB_CHILD_PASS_ENV"),
            .valueName = QStringLiteral("NAME"),
            .help = QStringLiteral("Variable of the broker's environment the child keeps. Children get\n"
                                   "only PATH, HOME, LANG, LC_*, TZ, these, child_env, and (auth oauth)\n"
                                   "token_env and FORGEJO_URL. The variable takes a comma-separated list."),
            .list = true,
            .envSeparator = QLatin1Char(','),
            .apply = applyChildPassEnv,
            .describe = describeChildPassEnv,
        },
        {
            .key = QStringLiteral("child_sandbox"),
            .flag = QStringLiteral("child-sandbox"),
            .envVar = QStringLiteral("FMB_CHILD_SANDBOX"),
            .valueName = QStringLiteral("auto|require|off"),
            .help = QStringLiteral("Landlock sandbox for children (Linux 5.13+): they may use only the\n"
                                   "allowed paths, never state_dir, the client secret or the config file.\n"
                                   "\"auto\": when the kernel has Landlock (a warning when not);\n"
                                   "\"require\": refuse to start without it; \"off\": none."),
            .apply = applyChildSandbox,
            .describe = describeChildSandbox,
        },
        {
            .key = QStringLiteral("child_allow_read"),
            .flag = QStringLiteral("child-allow-read"),
            .envVar = QStringLiteral("FMB_CHILD_ALLOW_READ"),
            .valueName = QStringLiteral("PATH"),
            .help = QStringLiteral("Absolute path a sandboxed child may read and execute beneath, besides\n"
                                   "/usr, /lib*, /bin, /sbin, /etc, /opt, /proc, /sys and the child\n"
                                   "command's own directories. The variable takes a comma-separated list."),
            .list = true,
            .envSeparator = QLatin1Char(','),
            .apply = applyChildAllowRead,
            .describe = describeChildAllowRead,
        },
        {
            .key = QStringLiteral("child_allow_write"),
            .flag = QStringLiteral("child-allow-write"),
            .envVar = QStringLiteral("FMB_CHILD_ALLOW_WRITE"),
            .valueName = QStringLiteral("PATH"),
            .help = QStringLiteral("Absolute path a sandboxed child may also write beneath, besides /dev\n"
                                   "and /tmp. The variable takes a comma-separated list."),
            .list = true,
            .envSeparator = QLatin1Char(','),
            .apply = applyChildAllowWrite,
            .describe = describeChildAllowWrite,
        },
        {
            .key = QStringLiteral("public_url"),
            .flag = QStringLiteral("public-url"),
            .envVar = QStringLiteral("FMB_PUBLIC_URL"),
            .valueName = QStringLiteral("URL"),
            .help = QStringLiteral("External base URL clients reach the broker at (http or https, no\n"
                                   "query); a trailing slash is removed. Required with auth oauth."),
            .apply = applyPublicUrl,
            .describe = describePublicUrl,
        },
        {
            .key = QStringLiteral("forgejo_url"),
            .flag = QStringLiteral("forgejo-url"),
            .envVar = QStringLiteral("FMB_FORGEJO_URL"),
            .valueName = QStringLiteral("URL"),
            .help = QStringLiteral("Base URL of the Forgejo instance (http or https, no query); a\n"
                                   "trailing slash is removed. Required with auth oauth."),
            .apply = applyForgejoUrl,
            .describe = describeForgejoUrl,
        },
        {
            .key = QStringLiteral("forgejo_client_id"),
            .flag = QStringLiteral("forgejo-client-id"),
            .envVar = QStringLiteral("FMB_FORGEJO_CLIENT_ID"),
            .valueName = QStringLiteral("ID"),
            .help = QStringLiteral("Client ID of the broker's OAuth2 application in Forgejo. Required\n"
                                   "with auth oauth."),
            .apply = applyForgejoClientId,
            .describe = describeForgejoClientId,
        },
        {
            .key = QStringLiteral("forgejo_client_secret_file"),
            .flag = QStringLiteral("forgejo-client-secret-file"),
            .envVar = QStringLiteral("FMB_FORGEJO_CLIENT_SECRET_FILE"),
            .valueName = QStringLiteral("FILE"),
            .help = QStringLiteral("File holding that application's client secret; read at start, never\n"
                                   "printed. Required with auth oauth."),
            .apply = applyForgejoClientSecretFile,
            .describe = describeForgejoClientSecretFile,
        },
        {
            .key = QStringLiteral("state_dir"),
            .flag = QStringLiteral("state-dir"),
            .envVar = QStringLiteral("FMB_STATE_DIR"),
            .valueName = QStringLiteral("DIR"),
            .help = QStringLiteral("Directory for the token database and its key (auth oauth)."),
            .apply = applyStateDir,
            .describe = describeStateDir,
        },
        {
            .key = QStringLiteral("upstream_authorize_url"),
            .flag = QStringLiteral("upstream-authorize-url"),
            .envVar = QStringLiteral("FMB_UPSTREAM_AUTHORIZE_URL"),
            .valueName = QStringLiteral("URL"),
            .help = QStringLiteral("Forgejo's authorization endpoint, where users are sent to sign in\n"
                                   "(http or https, no query)."),
            .apply = applyUpstreamAuthorizeUrl,
            .describe = describeUpstreamAuthorizeUrl,
        },
        {
            .key = QStringLiteral("upstream_token_url"),
            .flag = QStringLiteral("upstream-token-url"),
            .envVar = QStringLiteral("FMB_UPSTREAM_TOKEN_URL"),
            .valueName = QStringLiteral("URL"),
            .help = QStringLiteral("Forgejo's token endpoint, for codes and refreshes (http or https, no\n"
                                   "query)."),
            .apply = applyUpstreamTokenUrl,
            .describe = describeUpstreamTokenUrl,
        },
        {
            .key = QStringLiteral("upstream_user_url"),
            .flag = QStringLiteral("upstream-user-url"),
            .envVar = QStringLiteral("FMB_UPSTREAM_USER_URL"),
            .valueName = QStringLiteral("URL"),
            .help = QStringLiteral("Forgejo API endpoint naming the user a token belongs to (http or\n"
                                   "https, no query)."),
            .apply = applyUpstreamUserUrl,
            .describe = describeUpstreamUserUrl,
        },
        {
            .key = QStringLiteral("token_env"),
            .flag = QStringLiteral("token-env"),
            .envVar = QStringLiteral("FMB_TOKEN_ENV"),
            .valueName = QStringLiteral("NAME"),
            .help = QStringLiteral("Environment variable that hands the child its user's Forgejo access\n"
                                   "token."),
            .apply = applyTokenEnv,
            .describe = describeTokenEnv,
        },
        {
            .key = QStringLiteral("max_sessions_per_user"),
            .flag = QStringLiteral("max-sessions-per-user"),
            .envVar = QStringLiteral("FMB_MAX_SESSIONS_PER_USER"),
            .valueName = QStringLiteral("N"),
            .help = QStringLiteral("Most sessions one Forgejo user holds at once, 0 to 100000 (0 = only\n"
                                   "the max_sessions cap)."),
            .apply = applyMaxSessionsPerUser,
            .describe = describeMaxSessionsPerUser,
        },
        {
            .key = QStringLiteral("rotate_interval"),
            .flag = QStringLiteral("rotate-interval"),
            .envVar = QStringLiteral("FMB_ROTATE_INTERVAL"),
            .valueName = QStringLiteral("DURATION"),
            .help = QStringLiteral("How often upstream tokens due for a refresh are looked for (whole\n"
                                   "seconds, rounded up)."),
            .apply = applyRotateInterval,
            .describe = describeRotateInterval,
        },
        {
            .key = QStringLiteral("refresh_lead"),
            .flag = QStringLiteral("refresh-lead"),
            .envVar = QStringLiteral("FMB_REFRESH_LEAD"),
            .valueName = QStringLiteral("DURATION"),
            .help = QStringLiteral("Refresh an upstream token this long before it expires (whole\n"
                                   "seconds, rounded up)."),
            .apply = applyRefreshLead,
            .describe = describeRefreshLead,
        },
        {
            .key = QStringLiteral("access_token_ttl"),
            .flag = QStringLiteral("access-token-ttl"),
            .envVar = QStringLiteral("FMB_ACCESS_TOKEN_TTL"),
            .valueName = QStringLiteral("DURATION"),
            .help = QStringLiteral("Lifetime of the access tokens the broker issues to MCP clients, up\n"
                                   "to 24h (whole seconds, rounded up)."),
            .apply = applyAccessTokenTtl,
            .describe = describeAccessTokenTtl,
        },
        {
            .key = QStringLiteral("refresh_token_ttl"),
            .flag = QStringLiteral("refresh-token-ttl"),
            .envVar = QStringLiteral("FMB_REFRESH_TOKEN_TTL"),
            .valueName = QStringLiteral("DURATION"),
            .help = QStringLiteral("Lifetime of the refresh tokens the broker issues, up to 8760h (whole\n"
                                   "seconds, rounded up; 30 days is 720h)."),
            .apply = applyRefreshTokenTtl,
            .describe = describeRefreshTokenTtl,
        },
        {
            .key = QStringLiteral("metadata_allow_private_hosts"),
            .flag = QStringLiteral("metadata-allow-private-hosts"),
            .envVar = QStringLiteral("FMB_METADATA_ALLOW_PRIVATE_HOSTS"),
            // No value name: a switch. The bare flag means true; --flag=false,
            // the variable and the INI key take true, false, 1 or 0.
            .valueName = QString(),
            .help = QStringLiteral("For tests only: fetch Client ID Metadata Documents from loopback and\n"
                                   "private addresses too. The variable and the INI key take true,\n"
                                   "false, 1 or 0."),
            .apply = applyMetadataAllowPrivateHosts,
            .describe = describeMetadataAllowPrivateHosts,
        },
        {
            .key = QStringLiteral("register_rate"),
            .flag = QStringLiteral("register-rate"),
            .envVar = QStringLiteral("FMB_REGISTER_RATE"),
            .valueName = QStringLiteral("N"),
            .help = QStringLiteral("Client registrations (/oauth/register) one address may make a minute,\n"
                                   "in bursts of up to N; IPv6 counts per /64 (0 = no limit). Behind a\n"
                                   "reverse proxy every client shares the proxy's address."),
            .apply = applyRegisterRate,
            .describe = describeRegisterRate,
        },
        {
            .key = QStringLiteral("max_pending_clients"),
            .flag = QStringLiteral("max-pending-clients"),
            .envVar = QStringLiteral("FMB_MAX_PENDING_CLIENTS"),
            .valueName = QStringLiteral("N"),
            .help = QStringLiteral("Most registered clients that have not completed an authorization;\n"
                                   "more registrations get 503 with Retry-After (0 = no cap)."),
            .apply = applyMaxPendingClients,
            .describe = describeMaxPendingClients,
        },
        {
            .key = QStringLiteral("pending_client_ttl"),
            .flag = QStringLiteral("pending-client-ttl"),
            .envVar = QStringLiteral("FMB_PENDING_CLIENT_TTL"),
            .valueName = QStringLiteral("DURATION"),
            .help = QStringLiteral("A registered client that has not completed an authorization within\n"
                                   "this time is deleted (whole seconds, rounded up)."),
            .apply = applyPendingClientTtl,
            .describe = describePendingClientTtl,
        },
        {
            .key = QStringLiteral("max_registration_bytes"),
            .flag = QStringLiteral("max-registration-bytes"),
            .envVar = QStringLiteral("FMB_MAX_REGISTRATION_BYTES"),
            .valueName = QStringLiteral("SIZE"),
            .help = QStringLiteral("Largest client registration request, up to 64KiB; larger ones get\n"
                                   "413 invalid_client_metadata."),
            .apply = applyMaxRegistrationBytes,
            .describe = describeMaxRegistrationBytes,
        },
        {
            .key = QStringLiteral("admin_socket"),
            .flag = QStringLiteral("admin-socket"),
            .envVar = QStringLiteral("FMB_ADMIN_SOCKET"),
            .valueName = QStringLiteral("PATH"),
            .help = QStringLiteral("Local socket the admin console and CLI connect to. A relative path is\n"
                                   "taken from the working directory; at most 107 bytes (a Unix socket)."),
            .apply = applyAdminSocket,
            .describe = describeAdminSocket,
        },
        {
            .key = QStringLiteral("event_loop"),
            .flag = QStringLiteral("event-loop"),
            .envVar = QStringLiteral("FMB_EVENT_LOOP"),
            .valueName = QStringLiteral("epoll|qt"),
            .help = QStringLiteral("Event dispatcher of the main thread. \"epoll\" costs per ready\n"
                                   "descriptor; \"qt\" is Qt's own (glib), which polls every child's pipes\n"
                                   "on every iteration: a fall-back."),
            .apply = applyEventLoop,
            .describe = describeEventLoop,
        },
    };
}

} // namespace

const QList<ConfigSetting> &configSettings()
{
    static const QList<ConfigSetting> settings = buildSettings();
    return settings;
}

} // namespace fmb
