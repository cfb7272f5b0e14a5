#include "BrokerCtl.h"

#include <algorithm>
#include <cstdio>

#include <QCommandLineParser>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

#include "CtlFormat.h"
#include "admin/AdminClient.h"
#include "admin/AdminFleet.h"
#include "admin/AdminPaths.h"
#include "config/DatabaseUrl.h"

namespace fmb {
namespace {

void out(const QString &text)
{
    const QByteArray bytes = text.toUtf8();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stdout);
    std::fflush(stdout);
}

// `line`: prefixed and ended with a newline; else as it is (a question).
void err(const QString &text, bool line = true)
{
    const QByteArray bytes =
        line ? QByteArrayLiteral("forgejo-mcp-brokerctl: ") + text.toUtf8() + '\n' : text.toUtf8();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stderr);
    std::fflush(stderr);
}

QString jsonText(const QJsonValue &value)
{
    if (value.isArray())
        return QString::fromUtf8(QJsonDocument(value.toArray()).toJson(QJsonDocument::Indented));
    return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Indented));
}

Error usage(const QString &message)
{
    return Error{ErrorCode::InvalidArgument, QString(), message};
}

Result<void> checkMigrateArguments(const CtlOptions &options, const QStringList &positional,
                                   bool evictOptions)
{
    if (!positional.isEmpty() || evictOptions)
        return usage(QStringLiteral("migrate-store takes --from sqlite:PATH --to postgresql://... only"));
    if (options.from.isEmpty() || options.to.isEmpty())
        return usage(QStringLiteral("migrate-store needs --from sqlite:PATH and --to "
                                    "postgresql://USER@HOST:PORT/DB"));
    Result<DatabaseUrl> from = parseDatabaseUrl(options.from);
    if (!from)
        return usage(QStringLiteral("--from: ") + from.error().message);
    if (from.value().kind != DatabaseUrl::Kind::Sqlite)
        return usage(QStringLiteral("--from must be sqlite:PATH (the single broker's database)"));
    Result<DatabaseUrl> to = parseDatabaseUrl(options.to);
    if (!to) {
        return usage(QStringLiteral("--to: ") + QString(to.error().message)
                                                    .replace(QLatin1String("--database-password-file"),
                                                             QLatin1String("--to-password-file")));
    }
    if (to.value().kind != DatabaseUrl::Kind::Postgres)
        return usage(QStringLiteral("--to must be postgresql://USER@HOST:PORT/DB (the cluster's database)"));
    return {};
}

} // namespace

QString ctlHelpText()
{
    return QStringLiteral(
        "Usage: forgejo-mcp-brokerctl [OPTIONS] COMMAND [ARGUMENTS]\n"
        "\n"
        "Lists and evicts the sessions of a running forgejo-mcp-brokerd through its admin\n"
        "socket, on this host or (with --ssh) on another. Give --admin-socket or --ssh more\n"
        "than once to manage several brokers of a cluster at once (list, evict, brokers).\n"
        "\n"
        "Commands:\n"
        "  list                  Every session: id, user, MCP client, created, last active,\n"
        "                        idle time, upstream token expiry (\"no token\" in local mode),\n"
        "                        child pid and state. Ids are shortened to 12 characters in\n"
        "                        the table; --json prints a JSON array of session objects\n"
        "                        (id, user, client, created, last_active, idle_seconds,\n"
        "                        active, token_expires - null when there is no upstream\n"
        "                        token -, child_pid, state, pending_requests; times in\n"
        "                        ISO 8601 UTC).\n"
        "  info                  The broker's version, pid, uptime, listen URL, auth mode,\n"
        "                        admin socket and session counts (--json: an object).\n"
        "  evict ID...           End these sessions and stop their children. An ID is a full\n"
        "                        session id or a unique prefix of at least 6 characters.\n"
        "  evict --user LOGIN    End every session of a user.\n"
        "  evict --all           End every session.\n"
        "  revoke --user LOGIN   Revoke all access of a user (OAuth mode): end their sessions\n"
        "                        and children, revoke every grant and broker token of the\n"
        "                        user and delete their stored Forgejo tokens, so their next\n"
        "                        request gets 401 and they must sign in again. On a terminal\n"
        "                        it names what goes and asks first; --yes skips the question\n"
        "                        (required when stdin is not a terminal). --json prints the\n"
        "                        counts (user, sessions, grants, broker_tokens,\n"
        "                        upstream_tokens).\n"
        "  watch                 Print session events as they happen, one per line, until\n"
        "                        interrupted: session.started, session.updated,\n"
        "                        session.rotated (new child after a token refresh),\n"
        "                        session.token_expiry, session.activity (at most one per\n"
        "                        session per second), session.ended (with the reason).\n"
        "                        --json prints each event as its JSON line.\n"
        "  brokers               The brokers of the cluster as the shared database knows\n"
        "                        them (--database postgresql://...): node id, host, pid,\n"
        "                        started, heartbeat age, sessions and state: up, stale (no\n"
        "                        heartbeat for more than 3 heartbeat intervals without a\n"
        "                        clean stop: killed, hung or cut off) or stopped. A single\n"
        "                        broker lists itself. With several targets the views merge\n"
        "                        by node id, and a target that does not answer is named.\n"
        "                        --json prints a JSON array (node_id, host, pid, listen_url,\n"
        "                        started, heartbeat, heartbeat_age_ms, stale_after_ms,\n"
        "                        stale, stopped, sessions, user_children, self).\n"
        "  migrate-store --from sqlite:PATH --to postgresql://USER@HOST:PORT/DB\n"
        "                        Copy a single broker's token store into a cluster's\n"
        "                        PostgreSQL database, so that nobody signs in again:\n"
        "                        clients, consents, grants with their Forgejo tokens (still\n"
        "                        sealed: the cluster needs this broker's key file as\n"
        "                        secret_key_file), broker tokens (as hashes) and unexpired\n"
        "                        authorization codes; expired tokens and codes stay behind.\n"
        "                        Stop the broker first (a running one is detected). The\n"
        "                        source is only read; the copy is one transaction; a target\n"
        "                        that holds data is refused. Prints the counts (--json: an\n"
        "                        object). Needs no admin socket.\n"
        "\n"
        "Options:\n"
        "  --admin-socket PATH   The broker's admin socket. Default: $FMB_ADMIN_SOCKET, else\n"
        "                        $XDG_RUNTIME_DIR/forgejo-mcp-broker/admin.sock, else\n"
        "                        /tmp/forgejo-mcp-broker-<uid>/admin.sock - the same rule as\n"
        "                        forgejo-mcp-brokerd's --admin-socket. Repeat it (and --ssh)\n"
        "                        for several brokers: list then shows one table with a\n"
        "                        BROKER column (the node id; --json adds \"broker\"), evict\n"
        "                        sends each id to the broker that serves it. info, revoke\n"
        "                        and watch take one target. One --admin-socket with one --ssh\n"
        "                        is refused (a remote socket goes in --ssh HOST:/path).\n"
        "  --ssh [USER@]HOST[:REMOTE_SOCKET]\n"
        "                        Reach a broker on HOST through the system OpenSSH client:\n"
        "                        ssh -N -o ExitOnForwardFailure=yes -o BatchMode=yes -L\n"
        "                        <temporary local socket>:REMOTE_SOCKET [USER@]HOST. The\n"
        "                        broker opens no network port for this; ssh needs key or\n"
        "                        agent authentication (no prompts). Without REMOTE_SOCKET the\n"
        "                        default path of USER on HOST is used. Extra ssh options\n"
        "                        (a port, a key, known-hosts settings) come from\n"
        "                        FMB_SSH_OPTIONS, e.g. FMB_SSH_OPTIONS=\"-p 2222 -i ~/.ssh/k\".\n"
        "  --json                JSON output (see the commands).\n"
        "  --user LOGIN          evict: every session of LOGIN; revoke: the user.\n"
        "  --all                 evict: every session.\n"
        "  -y, --yes             revoke: do not ask for confirmation.\n"
        "  --timeout SECONDS     Give up when the broker has not answered in time\n"
        "                        (default 15; for watch it bounds connecting only).\n"
        "  --to-password-file FILE\n"
        "                        migrate-store: the target's password (else ~/.pgpass or\n"
        "                        PGPASSFILE, or none).\n"
        "  --force               migrate-store: delete what the target holds (clients,\n"
        "                        grants, tokens, codes, consents, key check) in the same\n"
        "                        transaction, then copy.\n"
        "  -v, --verbose         Log connection details (fmb.admin) to stderr.\n"
        "  -h, --help            Show this help.\n"
        "  --version             Show the version.\n"
        "\n"
        "Exit status:\n"
        "  0  success\n"
        "  1  the broker answered with an error, or evict left something not evicted\n"
        "     (an unknown or ambiguous id, a user without sessions), or revoke was\n"
        "     declined at the question\n"
        "  2  bad usage\n"
        "  3  the broker could not be reached: not running, the socket belongs to another\n"
        "     user, ssh failed, or the timeout passed; with several targets: any of them\n"
        "     (the others' answers are still printed); migrate-store: a database could not\n"
        "     be opened\n"
        "  4  migrate-store: the target holds data (nothing written; see --force)\n"
        "  5  migrate-store: a running broker has the source open (nothing written)\n"
        "  migrate-store exits 1 when the copy failed midway (rolled back: nothing written).\n");
}

Result<CtlOptions> parseCtlArguments(const QStringList &args)
{
    QCommandLineParser parser;
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    const QCommandLineOption socketOption(QStringLiteral("admin-socket"), QString(), QStringLiteral("PATH"));
    const QCommandLineOption sshOption(QStringLiteral("ssh"), QString(), QStringLiteral("TARGET"));
    const QCommandLineOption jsonOption(QStringLiteral("json"));
    const QCommandLineOption userOption(QStringLiteral("user"), QString(), QStringLiteral("LOGIN"));
    const QCommandLineOption allOption(QStringLiteral("all"));
    const QCommandLineOption yesOption(QStringList{QStringLiteral("y"), QStringLiteral("yes")});
    const QCommandLineOption timeoutOption(QStringLiteral("timeout"), QString(), QStringLiteral("SECONDS"));
    const QCommandLineOption verboseOption(QStringList{QStringLiteral("v"), QStringLiteral("verbose")});
    const QCommandLineOption helpOption(QStringList{QStringLiteral("h"), QStringLiteral("help")});
    const QCommandLineOption versionOption(QStringLiteral("version"));
    const QCommandLineOption fromOption(QStringLiteral("from"), QString(), QStringLiteral("URL"));
    const QCommandLineOption toOption(QStringLiteral("to"), QString(), QStringLiteral("URL"));
    const QCommandLineOption toPasswordOption(QStringLiteral("to-password-file"), QString(),
                                              QStringLiteral("FILE"));
    const QCommandLineOption forceOption(QStringLiteral("force"));
    parser.addOptions({socketOption, sshOption, jsonOption, userOption, allOption, yesOption, timeoutOption,
                       verboseOption, helpOption, versionOption, fromOption, toOption, toPasswordOption,
                       forceOption});
    if (!parser.parse(args))
        return usage(parser.errorText());

    CtlOptions options;
    options.help = parser.isSet(helpOption);
    options.version = parser.isSet(versionOption);
    if (options.help || options.version)
        return options;

    options.json = parser.isSet(jsonOption);
    options.verbose = parser.isSet(verboseOption);
    if (parser.isSet(timeoutOption)) {
        bool ok = false;
        const double seconds = parser.value(timeoutOption).toDouble(&ok);
        if (!ok || seconds <= 0 || seconds > 86400)
            return usage(QStringLiteral("--timeout \"%1\" is not a number of seconds (try 15)")
                             .arg(parser.value(timeoutOption)));
        options.timeout = std::chrono::milliseconds(qint64(seconds * 1000));
    }
    // Each --admin-socket and each --ssh names one broker (issue 14); none: the default socket.
    const QStringList sockets = parser.values(socketOption);
    const QStringList sshSpecs = parser.values(sshOption);
    if (sockets.size() == 1 && sshSpecs.size() == 1)
        return usage(QStringLiteral("--ssh and --admin-socket do not combine for one broker; give the remote "
                                    "socket as --ssh HOST:/path/to/admin.sock (for two brokers give "
                                    "--admin-socket or --ssh twice)"));
    for (const QString &socket : sockets)
        options.targets.append(AdminTarget::local(resolveAdminSocketPath(socket)));
    for (const QString &spec : sshSpecs) {
        Result<AdminTarget> target = AdminTarget::fromSshSpec(spec);
        if (!target)
            return target.error();
        options.targets.append(target.value());
    }
    if (options.targets.isEmpty())
        options.targets.append(AdminTarget::local(resolveAdminSocketPath(QString())));
    options.target = options.targets.first();

    QStringList positional = parser.positionalArguments();
    if (positional.isEmpty())
        return usage(
            QStringLiteral("no command given (list, info, evict, revoke, watch, brokers or migrate-store)"));
    options.command = positional.takeFirst();
    options.user = parser.value(userOption);
    options.all = parser.isSet(allOption);
    options.yes = parser.isSet(yesOption);
    const QStringList known = {QStringLiteral("list"),         QStringLiteral("info"),
                               QStringLiteral("evict"),        QStringLiteral("revoke"),
                               QStringLiteral("watch"),        QStringLiteral("brokers"),
                               QStringLiteral("migrate-store")};
    if (!known.contains(options.command))
        return usage(
            QStringLiteral(
                "unknown command \"%1\" (list, info, evict, revoke, watch, brokers or migrate-store)")
                .arg(options.command));
    const QStringList oneBroker = {QStringLiteral("info"), QStringLiteral("revoke"), QStringLiteral("watch")};
    if (options.targets.size() > 1 && oneBroker.contains(options.command))
        return usage(
            QStringLiteral("%1 talks to one broker; give one --admin-socket or --ssh (list, evict and "
                           "brokers take several)")
                .arg(options.command));
    if (options.yes && options.command != QLatin1String("revoke"))
        return usage(QStringLiteral("--yes belongs to revoke"));
    const bool migrate = options.command == QLatin1String("migrate-store");
    if (!migrate && (parser.isSet(fromOption) || parser.isSet(toOption) || parser.isSet(toPasswordOption) ||
                     parser.isSet(forceOption)))
        return usage(QStringLiteral("--from, --to, --to-password-file and --force belong to migrate-store"));
    if (migrate) {
        options.from = parser.value(fromOption);
        options.to = parser.value(toOption);
        options.toPasswordFile = parser.value(toPasswordOption);
        options.force = parser.isSet(forceOption);
        if (Result<void> r =
                checkMigrateArguments(options, positional, parser.isSet(userOption) || options.all);
            !r.ok())
            return r.error();
        return options;
    }
    if (options.command == QLatin1String("evict")) {
        options.ids = positional;
        const int selectors = int(!options.ids.isEmpty()) + int(parser.isSet(userOption)) + int(options.all);
        if (selectors == 0)
            return usage(QStringLiteral("evict needs session ids, --user LOGIN or --all"));
        if (selectors > 1)
            return usage(QStringLiteral("evict takes session ids, --user LOGIN or --all: one of them"));
        if (parser.isSet(userOption) && options.user.isEmpty())
            return usage(QStringLiteral("--user needs a login"));
    } else if (options.command == QLatin1String("revoke")) {
        if (options.user.isEmpty())
            return usage(QStringLiteral("revoke needs --user LOGIN"));
        if (!positional.isEmpty() || options.all)
            return usage(QStringLiteral("revoke takes --user LOGIN only: one user at a time"));
    } else {
        if (!positional.isEmpty())
            return usage(QStringLiteral("%1 takes no arguments (got \"%2\")")
                             .arg(options.command, positional.join(QLatin1Char(' '))));
        if (parser.isSet(userOption) || options.all)
            return usage(QStringLiteral("--user and --all belong to evict (and --user to revoke)"));
    }
    return options;
}

BrokerCtl::BrokerCtl(CtlOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
    , m_client(new AdminClient(this))
    , m_timeout(new QTimer(this))
{
    m_timeout->setSingleShot(true);
    connect(m_timeout, &QTimer::timeout, this, [this] {
        QStringList names;
        for (const AdminTarget &target : std::as_const(m_options.targets))
            names.append(target.displayName());
        fail(CtlExit::Unreachable, QStringLiteral("no answer from the broker at %1 within %2 s")
                                       .arg(names.join(QLatin1String(", ")))
                                       .arg(double(m_options.timeout.count()) / 1000));
    });
    connect(m_client, &AdminClient::connected, this, &BrokerCtl::onConnected);
    connect(m_client, &AdminClient::connectionFailed, this,
            [this](const QString &message) { fail(CtlExit::Unreachable, message); });
    connect(m_client, &AdminClient::disconnected, this,
            [this](const QString &reason) { fail(CtlExit::Unreachable, reason); });
}

BrokerCtl::~BrokerCtl() = default;

void BrokerCtl::start()
{
    if (m_options.command == QLatin1String("revoke") && !m_options.yes && !m_options.interactive) {
        // Nobody to ask: a script must say --yes rather than revoke by accident.
        QMetaObject::invokeMethod(
            this,
            [this] {
                fail(CtlExit::Usage,
                     QStringLiteral("revoke asks for confirmation on a terminal; pass --yes to revoke %1 "
                                    "without asking")
                         .arg(m_options.user));
            },
            Qt::QueuedConnection);
        return;
    }
    m_timeout->start(m_options.timeout);
    if (usesFleet()) {
        m_fleet = new AdminFleet(this);
        connect(m_fleet, &AdminFleet::settled, this, &BrokerCtl::onFleetSettled);
        m_fleet->connectTo(m_options.targets);
        return;
    }
    m_client->connectTo(m_options.target);
}

bool BrokerCtl::usesFleet() const
{
    // One target keeps the single-broker output exactly as before; brokers
    // always goes through the fleet (it merges what every target knows).
    return m_options.targets.size() > 1 || m_options.command == QLatin1String("brokers");
}

void BrokerCtl::onFleetSettled()
{
    bool anyReachable = false;
    for (int i = 0; i < m_fleet->size(); ++i)
        anyReachable = anyReachable || m_fleet->state(i) == AdminFleet::MemberState::Connected;
    if (!anyReachable) {
        QStringList problems;
        for (int i = 0; i < m_fleet->size(); ++i)
            problems.append(m_fleet->problem(i));
        return fail(CtlExit::Unreachable, problems.join(QLatin1String("; ")));
    }
    if (m_options.command == QLatin1String("list"))
        runFleetList();
    else if (m_options.command == QLatin1String("evict"))
        runFleetEvict();
    else
        runBrokers();
}

void BrokerCtl::runFleetList()
{
    m_fleet->listSessions([this](const QList<FleetSession> &sessions, const QStringList &problems) {
        if (m_options.json) {
            QJsonArray array;
            for (const FleetSession &row : sessions) {
                QJsonObject object = row.session.toJson();
                object.insert(QStringLiteral("broker"), row.broker);
                array.append(object);
            }
            out(jsonText(array));
        } else {
            out(ctl::formatFleetTable(sessions, QDateTime::currentMSecsSinceEpoch()));
        }
        finishFleet(problems, CtlExit::Ok);
    });
}

void BrokerCtl::runFleetEvict()
{
    const auto report = [this](const EvictOutcome &outcome, const QStringList &problems) {
        finishFleet(problems, reportEvict(outcome, outcome.toJson()));
    };
    if (m_options.all)
        m_fleet->evictEverywhere(EvictSelector::everything(), report);
    else if (!m_options.user.isEmpty())
        m_fleet->evictEverywhere(EvictSelector::ofUser(m_options.user), report);
    else
        m_fleet->evictSessions(m_options.ids, report);
}

void BrokerCtl::runBrokers()
{
    m_fleet->listBrokers([this](const QList<BrokerStatus> &brokers, const QStringList &problems) {
        if (m_options.json) {
            QJsonArray array;
            for (const BrokerStatus &broker : brokers)
                array.append(broker.toJson());
            out(jsonText(array));
            return finishFleet(problems, CtlExit::Ok);
        }
        out(ctl::formatBrokerTable(brokers, problems));
        // The table already names the targets that did not answer.
        done(problems.isEmpty() ? CtlExit::Ok : CtlExit::Unreachable);
    });
}

void BrokerCtl::finishFleet(const QStringList &problems, int status)
{
    // The brokers that answered are shown; one that did not still fails the run.
    for (const QString &problem : problems)
        err(problem);
    done(problems.isEmpty() ? status : std::max(status, CtlExit::Unreachable));
}

void BrokerCtl::onConnected()
{
    if (m_options.command == QLatin1String("list"))
        runList();
    else if (m_options.command == QLatin1String("info"))
        runInfo();
    else if (m_options.command == QLatin1String("evict"))
        runEvict();
    else if (m_options.command == QLatin1String("revoke"))
        m_options.yes ? runRevoke() : confirmRevoke();
    else
        runWatch();
}

void BrokerCtl::runList()
{
    m_client->listSessions([this](const AdminReply &reply, const QList<SessionInfo> &sessions) {
        if (!reply.ok)
            return fail(reply.error.code == QLatin1String("disconnected") ? CtlExit::Unreachable
                                                                          : CtlExit::Failed,
                        reply.error.message);
        if (m_options.json) {
            // The list as the broker sent it, fields this version does not know included.
            out(jsonText(reply.result.toObject().value(QLatin1String("sessions")).toArray()));
            return done(CtlExit::Ok);
        }
        out(ctl::formatSessionTable(sessions, QDateTime::currentMSecsSinceEpoch()));
        done(CtlExit::Ok);
    });
}

void BrokerCtl::runInfo()
{
    m_client->info([this](const AdminReply &reply, const DaemonInfo &info) {
        if (!reply.ok)
            return fail(reply.error.code == QLatin1String("disconnected") ? CtlExit::Unreachable
                                                                          : CtlExit::Failed,
                        reply.error.message);
        if (m_options.json)
            out(jsonText(reply.result));
        else
            out(ctl::formatDaemonInfo(info));
        done(CtlExit::Ok);
    });
}

void BrokerCtl::runEvict()
{
    const EvictSelector selector = m_options.all               ? EvictSelector::everything()
                                   : !m_options.user.isEmpty() ? EvictSelector::ofUser(m_options.user)
                                                               : EvictSelector::ofSessions(m_options.ids);
    m_client->evict(selector, [this](const AdminReply &reply, const EvictOutcome &outcome) {
        if (!reply.ok)
            return fail(reply.error.code == QLatin1String("disconnected") ? CtlExit::Unreachable
                                                                          : CtlExit::Failed,
                        reply.error.message);
        done(reportEvict(outcome, reply.result));
    });
}

int BrokerCtl::reportEvict(const EvictOutcome &outcome, const QJsonValue &json) const
{
    if (m_options.json) {
        out(jsonText(json));
    } else {
        for (const QString &id : outcome.evicted)
            out(QStringLiteral("evicted %1\n").arg(id));
        if (outcome.evicted.isEmpty() && outcome.notFound.isEmpty() && outcome.ambiguous.isEmpty())
            out(QStringLiteral("no sessions to evict\n"));
    }
    for (const QString &id : outcome.notFound) {
        err(m_options.user.isEmpty() ? QStringLiteral("no session %1").arg(id)
                                     : QStringLiteral("user %1 has no sessions").arg(id));
    }
    for (const QString &id : outcome.ambiguous)
        err(QStringLiteral("%1 matches several sessions; give more of the id").arg(id));
    const bool complete = outcome.notFound.isEmpty() && outcome.ambiguous.isEmpty();
    return complete ? CtlExit::Ok : CtlExit::Failed;
}

void BrokerCtl::confirmRevoke()
{
    m_client->listSessions([this](const AdminReply &reply, const QList<SessionInfo> &sessions) {
        if (!reply.ok)
            return fail(reply.error.code == QLatin1String("disconnected") ? CtlExit::Unreachable
                                                                          : CtlExit::Failed,
                        reply.error.message);
        const auto open = std::count_if(sessions.cbegin(), sessions.cend(),
                                        [this](const SessionInfo &s) { return s.user == m_options.user; });
        err(ctl::revokeQuestion(m_options.user, int(open)), false);
        // The question waits for a person: the timeout is for the broker only.
        m_timeout->stop();
        char answer[64] = {};
        const bool yes =
            std::fgets(answer, sizeof answer, stdin) && ctl::isYes(QString::fromLocal8Bit(answer));
        if (!yes) {
            err(QStringLiteral("nothing revoked"));
            return done(CtlExit::Failed);
        }
        m_timeout->start(m_options.timeout);
        runRevoke();
    });
}

void BrokerCtl::runRevoke()
{
    m_client->revoke(m_options.user, [this](const AdminReply &reply, const RevokeOutcome &outcome) {
        if (!reply.ok)
            return fail(reply.error.code == QLatin1String("disconnected") ? CtlExit::Unreachable
                                                                          : CtlExit::Failed,
                        reply.error.message);
        out(m_options.json ? jsonText(reply.result) : ctl::formatRevokeOutcome(outcome));
        done(CtlExit::Ok);
    });
}

void BrokerCtl::runWatch()
{
    if (m_options.json) {
        connect(m_client, &AdminClient::eventReceived, this,
                [this](const QString &, const QJsonObject &message) {
                    out(QString::fromUtf8(QJsonDocument(message).toJson(QJsonDocument::Compact)) +
                        QLatin1Char('\n'));
                });
    } else {
        connect(m_client, &AdminClient::sessionEvent, this, [this](const AdminEvent &event) {
            out(ctl::formatEvent(event, QDateTime::currentMSecsSinceEpoch()) + QLatin1Char('\n'));
        });
    }
    m_client->subscribe([this](const AdminReply &reply, const QList<SessionInfo> &sessions) {
        if (!reply.ok)
            return fail(reply.error.code == QLatin1String("disconnected") ? CtlExit::Unreachable
                                                                          : CtlExit::Failed,
                        reply.error.message);
        m_timeout->stop(); // watching has no end
        if (!m_options.json) {
            out(QStringLiteral("# watching %1: %2 session(s) open\n")
                    .arg(m_options.target.displayName())
                    .arg(sessions.size()));
        }
    });
}

void BrokerCtl::fail(int exitStatus, const QString &message)
{
    if (m_done)
        return;
    err(message);
    done(exitStatus);
}

void BrokerCtl::done(int exitStatus)
{
    if (m_done)
        return;
    m_done = true;
    m_timeout->stop();
    m_client->disconnect(this);
    m_client->disconnectFromDaemon();
    if (m_fleet) {
        m_fleet->disconnect(this);
        m_fleet->disconnectAll();
    }
    Q_EMIT finished(exitStatus);
}

} // namespace fmb
