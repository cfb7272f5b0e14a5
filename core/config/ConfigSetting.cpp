#include "ConfigSetting.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <sys/un.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QUrl>

#include "DatabaseUrl.h"
#include "NodeId.h"

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

// A setting whose value is one of a few words, each naming a value.
template <typename T>
struct Choice {
    const char *word;
    T value;
};

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

bool isVariableName(const QString &text)
{
    static const QRegularExpression name(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]*$"));
    return name.match(text).hasMatch();
}

// --- binders: how a setting's values reach BrokerConfig, and read back -------

using Apply =
    std::function<Result<void>(const QString &key, BrokerConfig &config, const QStringList &values)>;
using ApplyOne = std::function<Result<void>(const QString &key, BrokerConfig &config, const QString &text)>;
using Describe = std::function<QString(const BrokerConfig &config)>;

// One kind of value bound to its BrokerConfig member(s). apply gets exactly one
// value for a scalar and every entry of the winning source for a list; its Error
// names the key and the value (never a secret) but not the source.
struct Binder {
    QString valueName;   // what --help shows after the flag; empty for a switch
    Apply apply;         // text -> member
    Describe describe;   // member -> text, as --help shows the default; never a secret
    QChar listSeparator; // lists only: how the FMB_* variable separates entries
};

Binder scalar(QString valueName, ApplyOne applyOne, Describe describe)
{
    return {std::move(valueName),
            [applyOne = std::move(applyOne)](const QString &key, BrokerConfig &config,
                                             const QStringList &values) {
                return applyOne(key, config, values.constLast());
            },
            std::move(describe), QChar()};
}

Binder list(QString valueName, QChar separator, Apply apply, Describe describe)
{
    return {std::move(valueName), std::move(apply), std::move(describe), separator};
}

Describe joined(QStringList BrokerConfig::*member, const char *whenEmpty)
{
    return [member, whenEmpty](const BrokerConfig &config) {
        const QStringList &values = config.*member;
        return values.isEmpty() ? QString::fromLatin1(whenEmpty) : values.join(QLatin1Char(','));
    };
}

Describe textOr(QString BrokerConfig::*member, const char *whenEmpty)
{
    return [member, whenEmpty](const BrokerConfig &config) {
        return (config.*member).isEmpty() ? QString::fromLatin1(whenEmpty) : config.*member;
    };
}

// Why text is refused ("" when it is fine), said after "key: ".
using Check = QString (*)(const QString &text);

// Taken as given, after an optional check.
Binder text(QString BrokerConfig::*member, const char *valueName, const char *whenEmpty,
            Check check = nullptr)
{
    return scalar(
        QString::fromLatin1(valueName),
        [member, check](const QString &key, BrokerConfig &config, const QString &text) -> Result<void> {
            if (check) {
                if (const QString why = check(text); !why.isEmpty())
                    return invalid(key, why);
            }
            config.*member = text;
            return {};
        },
        textOr(member, whenEmpty));
}

// A value that parse turns into the member's type, or refuses.
template <typename T, typename Parse>
Binder parsed(QString valueName, T BrokerConfig::*member, Parse parse, Describe describe)
{
    return scalar(
        std::move(valueName),
        [member, parse](const QString &key, BrokerConfig &config, const QString &text) -> Result<void> {
            Result<T> value = parse(key, text);
            if (!value)
                return value.error();
            config.*member = std::move(value).value();
            return {};
        },
        std::move(describe));
}

Binder webUrl(QString BrokerConfig::*member, const char *example, bool trimSlash, const char *whenEmpty)
{
    return parsed(
        QStringLiteral("URL"), member,
        [example, trimSlash](const QString &key, const QString &text) {
            return webUrlValue(key, text, QString::fromLatin1(example), trimSlash);
        },
        textOr(member, whenEmpty));
}

// A whole number from min to max; with autoZero the word "auto" too, kept as 0.
Binder count(int BrokerConfig::*member, int min, int max, bool autoZero = false)
{
    return parsed(
        QStringLiteral("N"), member,
        [min, max, autoZero](const QString &key, const QString &text) -> Result<int> {
            if (autoZero && text == QLatin1String("auto"))
                return 0;
            const std::optional<qint64> number = parseWholeNumber(text);
            if (!number || *number < min || *number > max)
                return invalid(key, quoted(text) + QLatin1String(" is not ") +
                                        (autoZero ? QLatin1String("\"auto\" or ") : QLatin1String()) +
                                        QLatin1String("a whole number between ") + QString::number(min) +
                                        QLatin1String(" and ") + QString::number(max));
            return static_cast<int>(*number);
        },
        [member, autoZero](const BrokerConfig &config) {
            return autoZero && config.*member == 0 ? QStringLiteral("auto") : QString::number(config.*member);
        });
}

// Up to max; a member in whole seconds is rounded up ("500ms" is one second, never zero).
template <typename Rep, typename Period>
Binder duration(std::chrono::duration<Rep, Period> BrokerConfig::*member, const char *example,
                milliseconds max)
{
    using Duration = std::chrono::duration<Rep, Period>;
    return parsed(
        QStringLiteral("DURATION"), member,
        [example, max](const QString &key, const QString &text) -> Result<Duration> {
            const Result<milliseconds> value = durationValue(key, text, QString::fromLatin1(example), max);
            if (!value)
                return value.error();
            return std::chrono::ceil<Duration>(value.value());
        },
        [member](const BrokerConfig &config) { return formatDuration(config.*member); });
}

// From 1 byte to MaxByteLimit, and to limit when that is less.
Binder size(qint64 BrokerConfig::*member, const char *example, qint64 limit = MaxByteLimit)
{
    return parsed(
        QStringLiteral("SIZE"), member,
        [example, limit](const QString &key, const QString &text) -> Result<qint64> {
            Result<qint64> value = sizeValue(key, text, QString::fromLatin1(example));
            if (value && value.value() > limit)
                return invalid(key, quoted(text) + QLatin1String(" is more than the limit of ") +
                                        formatSize(limit));
            return value;
        },
        [member](const BrokerConfig &config) { return formatSize(config.*member); });
}

// One of the words of a table; --help shows them as "a|b|c".
template <typename T, std::size_t N>
Binder choice(T BrokerConfig::*member, const Choice<T> (&table)[N])
{
    const std::span<const Choice<T>> choices(table);
    QStringList words;
    for (const Choice<T> &entry : choices)
        words.append(QLatin1String(entry.word));
    return scalar(
        words.join(QLatin1Char('|')),
        [member, choices, words](const QString &key, BrokerConfig &config,
                                 const QString &text) -> Result<void> {
            for (const Choice<T> &entry : choices) {
                if (text == QLatin1String(entry.word)) {
                    config.*member = entry.value;
                    return {};
                }
            }
            return invalid(key, quoted(text) + QLatin1String(" is not one of: ") +
                                    words.join(QLatin1String(", ")));
        },
        [member, choices](const BrokerConfig &config) {
            for (const Choice<T> &entry : choices) {
                if (entry.value == config.*member)
                    return QString::fromLatin1(entry.word);
            }
            return QString();
        });
}

// No value name: the bare flag means true (see the switch rule in
// ConfigLoader.cpp); --flag=VALUE, the variable and the INI key take a word.
Binder onOff(bool BrokerConfig::*member)
{
    Binder binder = choice(member, SwitchChoices);
    binder.valueName.clear();
    return binder;
}

// HOST:PORT, IPv6 in brackets; port 0 lets the OS pick.
Binder hostAndPort(QString BrokerConfig::*hostMember, quint16 BrokerConfig::*portMember)
{
    return scalar(
        QStringLiteral("HOST:PORT"),
        [hostMember, portMember](const QString &key, BrokerConfig &config,
                                 const QString &text) -> Result<void> {
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
                    return invalid(key,
                                   quoted(text) +
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
            config.*hostMember = host;
            config.*portMember = static_cast<quint16>(*port);
            return {};
        },
        [hostMember, portMember](const BrokerConfig &config) {
            return hostPort(config.*hostMember, config.*portMember);
        });
}

// HOST:PORT, or "off" (the default: an empty host) for a listener that is optional.
Binder optionalHostAndPort(QString BrokerConfig::*hostMember, quint16 BrokerConfig::*portMember)
{
    Binder binder = hostAndPort(hostMember, portMember);
    binder.apply = [hostMember, portMember, apply = binder.apply](const QString &key, BrokerConfig &config,
                                                                  const QStringList &values) -> Result<void> {
        if (values.constLast() == QLatin1String("off")) {
            config.*hostMember = QString();
            config.*portMember = 0;
            return {};
        }
        return apply(key, config, values);
    };
    binder.describe = [hostMember, describe = binder.describe](const BrokerConfig &config) {
        return (config.*hostMember).isEmpty() ? QStringLiteral("off") : describe(config);
    };
    return binder;
}

// The first word is the program, the rest its arguments, split like a shell would.
Binder command(QString BrokerConfig::*programMember, QStringList BrokerConfig::*argumentsMember)
{
    return scalar(
        QStringLiteral("\"CMD ARGS\""),
        [programMember, argumentsMember](const QString &key, BrokerConfig &config,
                                         const QString &text) -> Result<void> {
            // The command line may carry a secret (a token as an argument), so it is
            // never quoted back.
            QStringList words = QProcess::splitCommand(text);
            if (words.isEmpty())
                return Error{ErrorCode::InvalidArgument, key, key + QLatin1String(" is required but empty")};
            config.*programMember = words.takeFirst();
            config.*argumentsMember = words;
            return {};
        },
        [programMember](const BrokerConfig &config) {
            return (config.*programMember).isEmpty() ? QStringLiteral("none (required)")
                                                     : config.*programMember;
        });
}

// NAME=VALUE entries, one a line in the variable.
Binder assignments(QList<QPair<QString, QString>> BrokerConfig::*member)
{
    return list(
        QStringLiteral("NAME=VALUE"), QLatin1Char('\n'),
        [member](const QString &key, BrokerConfig &config, const QStringList &values) -> Result<void> {
            // Values are secrets (upstream tokens): errors name the entry by position,
            // and print NAME only once it is known to be a valid name.
            QList<QPair<QString, QString>> entries;
            QSet<QString> seen;
            for (qsizetype i = 0; i < values.size(); ++i) {
                const QString &entry = values.at(i);
                const QString position = QLatin1String("entry ") + QString::number(i + 1);
                const qsizetype equals = entry.indexOf(QLatin1Char('='));
                if (equals < 0)
                    return invalid(key, position + QLatin1String(" has no \"=\" (want NAME=VALUE; the value "
                                                                 "is not shown)"));
                const QString variable = entry.left(equals);
                if (!isVariableName(variable))
                    return invalid(key, position + QLatin1String(" does not start with a NAME matching "
                                                                 "[A-Za-z_][A-Za-z0-9_]* followed by \"=\" "
                                                                 "(the entry is not shown)"));
                if (seen.contains(variable))
                    return invalid(key, variable + QLatin1String(" is given more than once"));
                seen.insert(variable);
                entries.append({variable, entry.mid(equals + 1)});
            }
            config.*member = entries;
            return {};
        },
        [member](const BrokerConfig &config) {
            if ((config.*member).isEmpty())
                return QStringLiteral("none");
            QStringList names;
            for (const auto &entry : config.*member)
                names.append(entry.first + QLatin1String("=..."));
            return names.join(QLatin1Char(' '));
        });
}

// Each entry trimmed, then checked and brought into its normal form by
// normalize; duplicates dropped, order kept.
Binder entries(QStringList BrokerConfig::*member, const char *valueName, const char *whenEmpty,
               std::function<Result<QString>(const QString &key, const QString &entry)> normalize)
{
    return list(
        QString::fromLatin1(valueName), QLatin1Char(','),
        [member, normalize](const QString &key, BrokerConfig &config,
                            const QStringList &values) -> Result<void> {
            QStringList kept;
            for (const QString &value : values) {
                Result<QString> entry = normalize(key, value.trimmed());
                if (!entry)
                    return entry.error();
                if (!kept.contains(entry.value()))
                    kept.append(entry.value());
            }
            config.*member = kept;
            return {};
        },
        joined(member, whenEmpty));
}

// Browser origins, compared in the form browsers send: scheme://host[:port].
Result<QString> origin(const QString &key, const QString &text)
{
    const QUrl url(text, QUrl::StrictMode);
    if (const std::optional<QString> problem = webUrlProblem(url))
        return invalid(key,
                       quoted(withoutUserInfo(text)) + QLatin1Char(' ') + *problem +
                           QLatin1String(" (an origin is scheme://host[:port], e.g. https://example.org)"));
    if (!url.path().isEmpty())
        return invalid(key,
                       quoted(text) + QLatin1String(" has a path; an origin is scheme://host[:port] only, "
                                                    "with no trailing slash"));
    // Browsers leave the default port out of Origin; compare in that form.
    QUrl origin;
    origin.setScheme(url.scheme());
    origin.setHost(url.host());
    const int defaultPort = url.scheme() == QLatin1String("https") ? 443 : 80;
    if (url.port() != -1 && url.port() != defaultPort)
        origin.setPort(url.port());
    return origin.toString(QUrl::FullyEncoded);
}

// Names of the broker's own variables a child may keep.
Result<QString> passedVariable(const QString &key, const QString &text)
{
    if (!isVariableName(text))
        return invalid(key, quoted(text) + QLatin1String(" is not an environment variable name matching "
                                                         "[A-Za-z_][A-Za-z0-9_]*"));
    // The broker's own settings may hold secrets (child_env values).
    if (text.startsWith(QLatin1String("FMB_")))
        return invalid(key, text + QLatin1String(" is one of the broker's own settings (FMB_*), which "
                                                 "children never get; use child_env for a value"));
    return text;
}

// Absolute paths only: a relative one would depend on the daemon's working
// directory. Existence is checked when the daemon builds the sandbox.
Result<QString> absolutePath(const QString &key, const QString &text)
{
    if (!QDir::isAbsolutePath(text))
        return invalid(key, quoted(text) + QLatin1String(" is not an absolute path"));
    return QDir::cleanPath(text);
}

// A Qt logging rule (QLoggingCategory, "Logging Rules"): a category, '*'
// allowed at its start or end, an optional level, and true or false.
Result<QString> loggingRule(const QString &key, const QString &text)
{
    static const QRegularExpression rule(
        QStringLiteral("^\\*?[A-Za-z0-9_.-]*\\*?(\\.(debug|info|warning|critical))?\\s*=\\s*(true|false)$"));
    const QRegularExpressionMatch match = rule.match(text);
    if (!match.hasMatch() || text.startsWith(QLatin1Char('=')))
        return invalid(key, quoted(text) + QLatin1String(" is not a logging rule CATEGORY[.LEVEL]=true|false "
                                                         "(try fmb.http.debug=true or fmb.*.debug=false)"));
    QString normalized = text;
    return normalized.remove(QLatin1Char(' '));
}

// A local socket path, made absolute; "" for the default under the runtime directory.
Binder socketPath(QString BrokerConfig::*member)
{
    return scalar(
        QStringLiteral("PATH"),
        [member](const QString &key, BrokerConfig &config, const QString &text) -> Result<void> {
            if (text.isEmpty()) {
                (config.*member).clear();
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
                return invalid(key,
                               quoted(path) +
                                   QStringLiteral(" is too long for a Unix socket address (needs %1 bytes, "
                                                  "at most %2): choose a shorter path")
                                       .arg(needed)
                                       .arg(MaxBytes));
            }
            config.*member = path;
            return {};
        },
        textOr(member, "a socket in the runtime directory"));
}

QString notPrintableAscii(const QString &text)
{
    // RFC 6749 appendix A.1: a client_id is VSCHAR, printable ASCII.
    for (const QChar c : text) {
        if (c < QLatin1Char(' ') || c > QLatin1Char('~'))
            return QStringLiteral(
                "has a character that is not printable ASCII (RFC 6749, appendix A.1); copy "
                "the client ID from Forgejo again");
    }
    return {};
}

QString notDatabaseUrl(const QString &text)
{
    Result<DatabaseUrl> url = parseDatabaseUrl(text);
    // The message starts with "database: "; the caller puts the key first again.
    return url.ok() ? QString() : url.error().message.mid(10);
}

QString notNodeId(const QString &text)
{
    if (text.isEmpty() || isValidNodeId(text))
        return {};
    return quoted(text) + QStringLiteral(" is not a node id: up to %1 of A-Z, a-z, 0-9, '.', '_' and '-' "
                                         "(try broker-1)")
                              .arg(MaxNodeIdLength);
}

QString notVariableName(const QString &text)
{
    if (isVariableName(text))
        return {};
    return quoted(text) +
           QLatin1String(" is not an environment variable name matching [A-Za-z_][A-Za-z0-9_]* "
                         "(try FORGEJO_ACCESS_TOKEN)");
}

// --- the table ----------------------------------------------------------------

// A row: the flag is the key with '-' for '_', the variable FMB_ and the key in
// capitals. help is one or two short lines for --help.
ConfigSetting setting(const char *key, const char *help, Binder binder)
{
    ConfigSetting row;
    row.key = QString::fromLatin1(key);
    row.flag = QString(row.key).replace(QLatin1Char('_'), QLatin1Char('-'));
    row.envVar = QLatin1String("FMB_") + row.key.toUpper();
    row.valueName = std::move(binder.valueName);
    row.help = QString::fromUtf8(help);
    row.list = !binder.listSeparator.isNull();
    row.envSeparator = binder.listSeparator;
    row.apply = [key = row.key, apply = std::move(binder.apply)](
                    BrokerConfig &config, const QStringList &values) { return apply(key, config, values); };
    row.describe = std::move(binder.describe);
    return row;
}

// A flag named before the rule, kept as it was.
ConfigSetting withFlag(ConfigSetting row, const char *flag)
{
    row.flag = QString::fromLatin1(flag);
    return row;
}

// Not a key of the INI file: only the flag or the variable set it.
ConfigSetting notInFile(ConfigSetting row)
{
    row.inFile = false;
    return row;
}

using B = BrokerConfig;

QList<ConfigSetting> buildSettings()
{
    return {
        notInFile(setting("config",
                          "INI file to read the settings below from (keys at the top level,\n"
                          "before any [section]; quote values containing , ; or \\).",
                          text(&B::configFile, "FILE", "none"))),
        setting("listen", "Address to serve /mcp on; port 0 picks a free port; IPv6 as [::1]:8080.",
                hostAndPort(&B::listenHost, &B::listenPort)),
        setting("metrics_listen",
                "Address to serve Prometheus /metrics on, apart from /mcp (a loopback\n"
                "address, or one only the scraper reaches: the page is not\n"
                "authenticated); \"off\" serves none. docs/metrics.md lists the series.",
                optionalHostAndPort(&B::metricsHost, &B::metricsPort)),
        setting("auth",
                "How MCP clients authenticate. \"oauth\": the broker is their OAuth 2.1\n"
                "server and signs users in with Forgejo; needs public_url,\n"
                "forgejo_url, forgejo_client_id and forgejo_client_secret_file.\n"
                "\"none\" (local mode) is allowed only on a loopback address\n"
                "(127.0.0.0/8, ::1, localhost).",
                choice(&B::authMode, AuthChoices)),
        setting("child_command",
                "The stdio MCP server started for each session; split into words\n"
                "like a shell does (double quotes group). Required.",
                command(&B::childProgram, &B::childArguments)),
        setting("child_env",
                "Extra environment variable for the child. The variable takes one\n"
                "entry per line. Values are secrets and are never printed.",
                assignments(&B::childEnv)),
        setting("max_sessions",
                "Most sessions (children) alive at once, 1 to 100000. The open-file\n"
                "limit caps it too: each session holds 4 descriptors, and the daemon\n"
                "answers 503 beyond what the limit has room for (logged at start).",
                count(&B::maxSessions, 1, MaxSessionsLimit)),
        setting("idle_timeout", "A session unused this long is ended (whole seconds, rounded up).",
                duration(&B::idleTimeout, "900s or 15m", MaxIdleTimeout)),
        setting("reap_interval", "How often idle sessions are looked for (whole seconds, rounded up).",
                duration(&B::reapInterval, "30s or 1m", MaxTimerDuration)),
        setting("max_batch_messages",
                "Most JSON-RPC messages in one POSTed batch, 1 to 100000; a larger\n"
                "batch is refused whole (400, -32600).",
                count(&B::maxBatchMessages, 1, 100000)),
        setting("max_pending_requests",
                "Most requests of one session awaiting their answer, 1 to 100000;\n"
                "one more is answered with error -32003.",
                count(&B::maxPendingRequests, 1, 100000)),
        setting("max_subscriptions_per_session",
                "Most resources one session subscribes to, 1 to 1000000; a\n"
                "resources/subscribe beyond is answered with error -32003.",
                count(&B::maxSubscriptionsPerSession, 1, 1000000)),
        setting("input_required_ttl",
                "How long a 2026-07-28 call that asked its client for input\n"
                "(input_required) waits for the retry; then it is cancelled in the\n"
                "child and its requestState is refused (-32602).",
                duration(&B::inputRequiredTtl, "120s or 2m", MaxTimerDuration)),
        setting("max_parked_calls_per_user",
                "Most 2026-07-28 calls of one user waiting for input, 1 to 100000;\n"
                "beyond, the server's request is answered with error -32003.",
                count(&B::maxParkedCallsPerUser, 1, 100000)),
        setting("max_listeners_per_user",
                "Most open 2026-07-28 subscriptions/listen streams of one user, 1 to\n"
                "100000; one more is answered with error -32003.",
                count(&B::maxListenersPerUser, 1, 100000)),
        withFlag(setting("allowed_origins",
                         "Browser Origin allowed to call /mcp, as scheme://host[:port].\n"
                         "The variable takes a comma-separated list.",
                         entries(&B::allowedOrigins, "ORIGIN", "none", origin)),
                 "allowed-origin"),
        setting("max_body_bytes",
                "Largest POST /mcp body accepted: 413 as soon as Content-Length or\n"
                "the bytes received exceed it. A request head is limited to 64 KiB (431).",
                size(&B::maxBodyBytes, "4194304 or 4MiB")),
        setting("request_timeout",
                "A request must arrive whole within this (408 and close); the first\n"
                "request of a connection counts from accept, so a connection that\n"
                "sends nothing is closed after it too.",
                duration(&B::requestTimeout, "30s or 500ms", MaxTimerDuration)),
        setting("keepalive_timeout",
                "A kept-alive connection with no request in flight is closed after\n"
                "this. SSE streams and requests waiting for an answer are never idle.",
                duration(&B::keepAliveTimeout, "90s or 2m", MaxTimerDuration)),
        setting("max_connections",
                "Most client connections open at once, or \"auto\": an eighth of the\n"
                "open-file limit (the share it reserves for connections). At the cap\n"
                "a new connection replaces the one idle longest, or gets 503.",
                count(&B::maxConnections, 1, MaxConnectionsLimit, true)),
        setting("max_connections_per_address",
                "Most connections from one client address (0 = no such cap). At the\n"
                "cap a new one replaces that address's idlest, or gets 503.",
                count(&B::maxConnectionsPerAddress, 0, MaxConnectionsLimit)),
        setting("child_max_line_bytes",
                "Longest line (one JSON-RPC message) accepted from the child. Longer\n"
                "lines are dropped with a warning, lines that are not JSON-RPC with a\n"
                "rate-limited one (10 at once, then 1 a second and a count).",
                size(&B::childMaxLineBytes, "16777216 or 16MiB")),
        setting("child_stop_grace",
                "Wait after closing the child's stdin before SIGTERM, and again\n"
                "before SIGKILL.",
                duration(&B::childStopGrace, "3s or 500ms", MaxTimerDuration)),
        setting("child_stdio",
                "How the child's stdin and stdout are connected: \"pipes\" (4\n"
                "descriptors per session, the fastest), \"socket\" (one Unix socket\n"
                "for both: 3 descriptors, so more sessions fit under the open-file\n"
                "limit), or \"auto\": pipes unless max_sessions fits only with the\n"
                "socket.",
                choice(&B::childStdio, ChildStdioChoices)),
        setting("child_pass_env",
                "Variable of the broker's environment the child keeps. Children get\n"
                "only PATH, HOME, LANG, LC_*, TZ, these, child_env, and (auth oauth)\n"
                "token_env and FORGEJO_URL. The variable takes a comma-separated list.",
                entries(&B::childPassEnv, "NAME", "none", passedVariable)),
        setting("child_sandbox",
                "Landlock sandbox for children (Linux 5.13+): they may use only the\n"
                "allowed paths, never state_dir, the client secret or the config file.\n"
                "\"auto\": when the kernel has Landlock (a warning when not);\n"
                "\"require\": refuse to start without it; \"off\": none.",
                choice(&B::childSandbox, ChildSandboxChoices)),
        setting("child_allow_read",
                "Absolute path a sandboxed child may read and execute beneath, besides\n"
                "/usr, /lib*, /bin, /sbin, /etc, /opt, /proc, /sys and the child\n"
                "command's own directories. The variable takes a comma-separated list.",
                entries(&B::childAllowRead, "PATH", "none beyond the defaults", absolutePath)),
        setting("child_allow_write",
                "Absolute path a sandboxed child may also write beneath, besides /dev\n"
                "and /tmp. The variable takes a comma-separated list.",
                entries(&B::childAllowWrite, "PATH", "none beyond the defaults", absolutePath)),
        setting("public_url",
                "External base URL clients reach the broker at (http or https, no\n"
                "query); a trailing slash is removed. Required with auth oauth.",
                webUrl(&B::publicUrl, "https://mcp.example.org", true, "none")),
        setting("forgejo_url",
                "Base URL of the Forgejo instance (http or https, no query); a\n"
                "trailing slash is removed. Required with auth oauth.",
                webUrl(&B::forgejoUrl, "https://forge.example.org", true, "none")),
        setting("forgejo_client_id",
                "Client ID of the broker's OAuth2 application in Forgejo. Required\n"
                "with auth oauth.",
                text(&B::forgejoClientId, "ID", "none", notPrintableAscii)),
        // Only the path: the daemon reads the file, so the secret never passes
        // through flags, the environment or the INI file.
        setting("forgejo_client_secret_file",
                "File holding that application's client secret; read at start, never\n"
                "printed. Required with auth oauth.",
                text(&B::forgejoClientSecretFile, "FILE", "none")),
        setting("state_dir", "Directory for the token database and its key (auth oauth).",
                text(&B::stateDir, "DIR",
                     "/var/lib/forgejo-mcp-broker when running as root, else\n"
                     "$XDG_DATA_HOME/forgejo-mcp-broker (~/.local/share/...)")),
        setting("database",
                "Where the token store lives: sqlite:PATH (one broker) or\n"
                "postgresql://USER@HOST:PORT/DBNAME (?host=/socket/dir) shared by a cluster.",
                text(&B::database, "URL", "sqlite: the file in state_dir", notDatabaseUrl)),
        setting("database_password_file",
                "File holding the PostgreSQL password; read at start, never printed\n"
                "(default: libpq's ~/.pgpass or none).",
                text(&B::databasePasswordFile, "FILE", "none")),
        setting("bearer_cache_ttl",
                "How long a checked access token is trusted from memory before the\n"
                "database is asked again; also how late a revocation whose\n"
                "notification was lost reaches this broker (at most 5m).",
                duration(&B::bearerCacheTtl, "5s or 500ms", std::chrono::minutes(5))),
        setting("bearer_outage_grace",
                "While the database is unreachable, a cached access token is still\n"
                "accepted this long after the database last confirmed it.",
                duration(&B::bearerOutageGrace, "15m or 1h", std::chrono::hours(24))),
        // Only the path: the daemon reads the key, which is never printed.
        setting("secret_key_file",
                "The 32-byte AES-256-GCM key for upstream tokens, shared by every\n"
                "broker of one forge; must exist, mode 0600. Never printed.",
                text(&B::secretKeyFile, "FILE", "upstream-tokens.key in state_dir, created on first start")),
        setting("node_id",
                "This broker's name in a cluster, unique per broker: prefixes its\n"
                "session ids (for routing) and shows in logs, admin info, /healthz\n"
                "and /metrics. Up to 32 of A-Z a-z 0-9 . _ -",
                text(&B::nodeId, "NAME", "the host name and the listen port, e.g. web1-8080", notNodeId)),
        setting("upstream_authorize_url",
                "Forgejo's authorization endpoint, where users are sent to sign in\n"
                "(http or https, no query).",
                webUrl(&B::upstreamAuthorizeUrl, "https://forge.example.org/login/oauth/authorize", false,
                       "<forgejo_url>/login/oauth/authorize")),
        setting("upstream_token_url",
                "Forgejo's token endpoint, for codes and refreshes (http or https, no\n"
                "query).",
                webUrl(&B::upstreamTokenUrl, "https://forge.example.org/login/oauth/access_token", false,
                       "<forgejo_url>/login/oauth/access_token")),
        setting("upstream_user_url",
                "Forgejo API endpoint naming the user a token belongs to (http or\n"
                "https, no query).",
                webUrl(&B::upstreamUserUrl, "https://forge.example.org/api/v1/user", false,
                       "<forgejo_url>/api/v1/user")),
        setting("token_env",
                "Environment variable that hands the child its user's Forgejo access\n"
                "token.",
                text(&B::tokenEnv, "NAME", "", notVariableName)),
        setting("max_sessions_per_user",
                "Most sessions one Forgejo user holds at once, 0 to 100000 (0 = only\n"
                "the max_sessions cap).",
                count(&B::maxSessionsPerUser, 0, MaxSessionsLimit)),
        setting("rotate_interval",
                "How often upstream tokens due for a refresh are looked for (whole\n"
                "seconds, rounded up).",
                duration(&B::rotateInterval, "60s or 1m", MaxTimerDuration)),
        setting("refresh_lead",
                "Refresh an upstream token this long before it expires (whole\n"
                "seconds, rounded up).",
                duration(&B::refreshLead, "300s or 5m", MaxTimerDuration)),
        setting("access_token_ttl",
                "Lifetime of the access tokens the broker issues to MCP clients, up\n"
                "to 24h (whole seconds, rounded up).",
                duration(&B::accessTokenTtl, "3600s or 1h", MaxAccessTokenTtl)),
        // DURATION has no day unit, so the example spells 30 days in hours.
        setting("refresh_token_ttl",
                "Lifetime of the refresh tokens the broker issues, up to 8760h (whole\n"
                "seconds, rounded up; 30 days is 720h).",
                duration(&B::refreshTokenTtl, "720h for 30 days", MaxRefreshTokenTtl)),
        setting("metadata_allow_private_hosts",
                "For tests only: fetch Client ID Metadata Documents from loopback and\n"
                "private addresses too. The variable and the INI key take true,\n"
                "false, 1 or 0.",
                onOff(&B::metadataAllowPrivateHosts)),
        setting("register_rate",
                "Client registrations (/oauth/register) one address may make a minute,\n"
                "in bursts of up to N; IPv6 counts per /64 (0 = no limit). Behind a\n"
                "reverse proxy every client shares the proxy's address.",
                count(&B::registerRate, 0, 100000)),
        setting("max_pending_clients",
                "Most registered clients that have not completed an authorization;\n"
                "more registrations get 503 with Retry-After (0 = no cap).",
                count(&B::maxPendingClients, 0, 1000000)),
        setting("pending_client_ttl",
                "A registered client that has not completed an authorization within\n"
                "this time is deleted (whole seconds, rounded up).",
                duration(&B::pendingClientTtl, "3600s or 1h", MaxRefreshTokenTtl)),
        // The OAuth endpoints read at most 64 KiB of any body.
        setting("max_registration_bytes",
                "Largest client registration request, up to 64KiB; larger ones get\n"
                "413 invalid_client_metadata.",
                size(&B::maxRegistrationBytes, "8KiB", 64 * KiB)),
        setting("admin_socket",
                "Local socket the admin console and CLI connect to. A relative path is\n"
                "taken from the working directory; at most 107 bytes (a Unix socket).",
                socketPath(&B::adminSocket)),
        setting("audit_log",
                "Where the audit trail goes (sign-ins, sessions, revocations; one JSON\n"
                "object per line, docs/audit.md): a file, appended to and created mode\n"
                "0600 (reopened on SIGHUP, for logrotate), or \"journal\" (also \"-\")\n"
                "for the log under the category fmb.audit.",
                text(&B::auditLog, "PATH", "off")),
        setting("event_loop",
                "Event dispatcher of the main thread. \"epoll\" costs per ready\n"
                "descriptor; \"qt\" is Qt's own (glib), which polls every child's pipes\n"
                "on every iteration: a fall-back.",
                choice(&B::eventLoop, EventLoopChoices)),
        setting("log_rules",
                "Qt logging rule, CATEGORY[.LEVEL]=true|false, e.g. fmb.http.debug=true;\n"
                "applied at start and again on SIGHUP. QT_LOGGING_RULES, when set,\n"
                "overrides these. The variable takes a comma-separated list.",
                entries(&B::logRules, "RULE", "none", loggingRule)),
        notInFile(setting("check_config",
                          "Check the configuration and exit: 0 when the daemon could start\n"
                          "with it, 2 with the problems on stderr. Also checks that the files\n"
                          "it names are readable and the listen host is an address; binds and\n"
                          "starts nothing (for ExecStartPre= and package scripts).",
                          onOff(&B::checkConfig))),
    };
}

} // namespace

const QList<ConfigSetting> &configSettings()
{
    static const QList<ConfigSetting> settings = buildSettings();
    return settings;
}

} // namespace fmb
