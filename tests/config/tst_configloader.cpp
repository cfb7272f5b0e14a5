#include <initializer_list>

#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QProcessEnvironment>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>

#include "config/ConfigLoader.h"
#include "config/ConfigSetting.h"

using namespace fmb;

namespace {

// Never a real secret; long and odd enough that it cannot appear by accident.
const QString Secret = QStringLiteral("S3CR3T-tok/+9==");

// Lets table rows mix plain literals and QStrings: words({"--child-env", secret}).
struct Word {
    Word(const char *text)
        : text(QString::fromUtf8(text))
    {}
    Word(const QString &text)
        : text(text)
    {}
    QString text;
};

QStringList words(std::initializer_list<Word> items)
{
    QStringList result;
    for (const Word &item : items)
        result.append(item.text);
    return result;
}

// The child command alone: auth takes its default (oauth) or comes from flags.
QStringList childOnly(std::initializer_list<Word> flags = {})
{
    return QStringList{QStringLiteral("--child-command"), QStringLiteral("mcp-server")} + words(flags);
}

// A local-mode start (--auth none given explicitly, since oauth is the default),
// so rows about other settings need no OAuth settings. A later --auth wins.
QStringList withChild(std::initializer_list<Word> flags = {})
{
    return childOnly({"--auth", "none"}) + words(flags);
}

// An OAuth start with auth from the default and every setting it requires.
QStringList withOAuth(std::initializer_list<Word> flags = {})
{
    return childOnly({"--public-url", "https://mcp.example.org", "--forgejo-url", "https://forge.example.org",
                      "--forgejo-client-id", "fmb-client", "--forgejo-client-secret-file",
                      "/etc/fmb/client-secret"}) +
           words(flags);
}

// One field of a config as text, so a table row can say what it expects.
QString field(const BrokerConfig &config, const QString &key)
{
    if (key == QLatin1String("config"))
        return config.configFile;
    if (key == QLatin1String("listen")) {
        const QString host = config.listenHost.contains(QLatin1Char(':'))
                                 ? QLatin1Char('[') + config.listenHost + QLatin1Char(']')
                                 : config.listenHost;
        return host + QLatin1Char(':') + QString::number(config.listenPort);
    }
    if (key == QLatin1String("metrics_listen")) {
        if (config.metricsHost.isEmpty())
            return QStringLiteral("off");
        const QString host = config.metricsHost.contains(QLatin1Char(':'))
                                 ? QLatin1Char('[') + config.metricsHost + QLatin1Char(']')
                                 : config.metricsHost;
        return host + QLatin1Char(':') + QString::number(config.metricsPort);
    }
    if (key == QLatin1String("auth"))
        return config.authMode == AuthMode::OAuth ? QStringLiteral("oauth") : QStringLiteral("none");
    if (key == QLatin1String("child_command"))
        return (QStringList{config.childProgram} + config.childArguments).join(QLatin1Char('|'));
    if (key == QLatin1String("child_env")) {
        QStringList entries;
        for (const auto &entry : config.childEnv)
            entries.append(entry.first + QLatin1Char('=') + entry.second);
        return entries.join(QLatin1Char('|'));
    }
    if (key == QLatin1String("max_sessions"))
        return QString::number(config.maxSessions);
    if (key == QLatin1String("idle_timeout"))
        return QString::number(config.idleTimeout.count()) + QLatin1Char('s');
    if (key == QLatin1String("reap_interval"))
        return QString::number(config.reapInterval.count()) + QLatin1Char('s');
    if (key == QLatin1String("max_batch_messages"))
        return QString::number(config.maxBatchMessages);
    if (key == QLatin1String("max_pending_requests"))
        return QString::number(config.maxPendingRequests);
    if (key == QLatin1String("max_subscriptions_per_session"))
        return QString::number(config.maxSubscriptionsPerSession);
    if (key == QLatin1String("input_required_ttl"))
        return QString::number(config.inputRequiredTtl.count()) + QLatin1String("ms");
    if (key == QLatin1String("max_parked_calls_per_user"))
        return QString::number(config.maxParkedCallsPerUser);
    if (key == QLatin1String("max_listeners_per_user"))
        return QString::number(config.maxListenersPerUser);
    if (key == QLatin1String("allowed_origins"))
        return config.allowedOrigins.join(QLatin1Char('|'));
    if (key == QLatin1String("max_body_bytes"))
        return QString::number(config.maxBodyBytes);
    if (key == QLatin1String("request_timeout"))
        return QString::number(config.requestTimeout.count()) + QLatin1String("ms");
    if (key == QLatin1String("keepalive_timeout"))
        return QString::number(config.keepAliveTimeout.count()) + QLatin1String("ms");
    if (key == QLatin1String("max_connections"))
        return QString::number(config.maxConnections);
    if (key == QLatin1String("max_connections_per_address"))
        return QString::number(config.maxConnectionsPerAddress);
    if (key == QLatin1String("child_max_line_bytes"))
        return QString::number(config.childMaxLineBytes);
    if (key == QLatin1String("child_stop_grace"))
        return QString::number(config.childStopGrace.count()) + QLatin1String("ms");
    if (key == QLatin1String("child_stdio")) {
        switch (config.childStdio) {
        case fmb::ChildStdioChoice::Auto:
            return QStringLiteral("auto");
        case fmb::ChildStdioChoice::Pipes:
            return QStringLiteral("pipes");
        case fmb::ChildStdioChoice::Socket:
            return QStringLiteral("socket");
        }
    }
    if (key == QLatin1String("child_pass_env"))
        return config.childPassEnv.join(QLatin1Char('|'));
    if (key == QLatin1String("child_sandbox")) {
        switch (config.childSandbox) {
        case fmb::ChildSandboxMode::Auto:
            return QStringLiteral("auto");
        case fmb::ChildSandboxMode::Require:
            return QStringLiteral("require");
        case fmb::ChildSandboxMode::Off:
            return QStringLiteral("off");
        }
    }
    if (key == QLatin1String("child_allow_read"))
        return config.childAllowRead.join(QLatin1Char('|'));
    if (key == QLatin1String("child_allow_write"))
        return config.childAllowWrite.join(QLatin1Char('|'));
    if (key == QLatin1String("public_url"))
        return config.publicUrl;
    if (key == QLatin1String("admin_socket"))
        return config.adminSocket;
    if (key == QLatin1String("audit_log"))
        return config.auditLog;
    if (key == QLatin1String("forgejo_url"))
        return config.forgejoUrl;
    if (key == QLatin1String("forgejo_client_id"))
        return config.forgejoClientId;
    if (key == QLatin1String("forgejo_client_secret_file"))
        return config.forgejoClientSecretFile;
    if (key == QLatin1String("state_dir"))
        return config.stateDir;
    if (key == QLatin1String("database"))
        return config.database;
    if (key == QLatin1String("database_password_file"))
        return config.databasePasswordFile;
    if (key == QLatin1String("node_id"))
        return config.nodeId;
    if (key == QLatin1String("secret_key_file"))
        return config.secretKeyFile;
    if (key == QLatin1String("upstream_authorize_url"))
        return config.upstreamAuthorizeUrl;
    if (key == QLatin1String("upstream_token_url"))
        return config.upstreamTokenUrl;
    if (key == QLatin1String("upstream_user_url"))
        return config.upstreamUserUrl;
    if (key == QLatin1String("token_env"))
        return config.tokenEnv;
    if (key == QLatin1String("max_sessions_per_user"))
        return QString::number(config.maxSessionsPerUser);
    if (key == QLatin1String("bearer_cache_ttl"))
        return QString::number(config.bearerCacheTtl.count()) + QLatin1String("ms");
    if (key == QLatin1String("bearer_outage_grace"))
        return QString::number(config.bearerOutageGrace.count()) + QLatin1String("ms");
    if (key == QLatin1String("rotate_interval"))
        return QString::number(config.rotateInterval.count()) + QLatin1Char('s');
    if (key == QLatin1String("refresh_lead"))
        return QString::number(config.refreshLead.count()) + QLatin1Char('s');
    if (key == QLatin1String("access_token_ttl"))
        return QString::number(config.accessTokenTtl.count()) + QLatin1Char('s');
    if (key == QLatin1String("refresh_token_ttl"))
        return QString::number(config.refreshTokenTtl.count()) + QLatin1Char('s');
    if (key == QLatin1String("metadata_allow_private_hosts"))
        return config.metadataAllowPrivateHosts ? QStringLiteral("true") : QStringLiteral("false");
    if (key == QLatin1String("register_rate"))
        return QString::number(config.registerRate);
    if (key == QLatin1String("max_pending_clients"))
        return QString::number(config.maxPendingClients);
    if (key == QLatin1String("pending_client_ttl"))
        return QString::number(config.pendingClientTtl.count()) + QLatin1Char('s');
    if (key == QLatin1String("max_registration_bytes"))
        return QString::number(config.maxRegistrationBytes);
    if (key == QLatin1String("event_loop"))
        return config.eventLoop == fmb::EventLoop::Epoll ? QStringLiteral("epoll") : QStringLiteral("qt");
    if (key == QLatin1String("log_rules"))
        return config.logRules.join(QLatin1Char('|'));
    if (key == QLatin1String("check_config"))
        return config.checkConfig ? QStringLiteral("true") : QStringLiteral("false");
    return QLatin1String("<no field for key ") + key + QLatin1Char('>');
}

} // namespace

class tst_ConfigLoader : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void defaults_data();
    void defaults();
    void setting_data();
    void setting();
    void iniEveryKey_data();
    void iniEveryKey();
    void rejected_data();
    void rejected();
    void authNone_data();
    void authNone();
    void stateDirDefault_data();
    void stateDirDefault();
    void secretsNeverShown_data();
    void secretsNeverShown();
    void requests_data();
    void requests();
    void loadConfigRefusesHelpAndVersion();
    void unreadableConfigFile();
    void helpText_data();
    void helpText();
    void helpTextPinned();
    void namesFromKey_data();
    void namesFromKey();
    void messages_data();
    void messages();

private:
    QString substitute(QString text) const;
    QStringList substitute(const QStringList &texts) const;
    // Writes ini (when not empty) to a fresh file that %FILE% then names, and
    // loads with args and env only: the runner's own FMB_* never leak in.
    Result<ConfigRequest> load(const QStringList &args, const QStringList &env, const QByteArray &ini);

    QTemporaryDir m_dir;
    QString m_file; // the last file load() wrote
    int m_fileCount = 0;
};

void tst_ConfigLoader::initTestCase()
{
    QVERIFY(m_dir.isValid());
}

QString tst_ConfigLoader::substitute(QString text) const
{
    return text.replace(QLatin1String("%FILE%"), m_file).replace(QLatin1String("%DIR%"), m_dir.path());
}

QStringList tst_ConfigLoader::substitute(const QStringList &texts) const
{
    QStringList result;
    for (const QString &text : texts)
        result.append(substitute(text));
    return result;
}

Result<ConfigRequest> tst_ConfigLoader::load(const QStringList &args, const QStringList &env,
                                             const QByteArray &ini)
{
    m_file = m_dir.filePath(QStringLiteral("broker-%1.ini").arg(++m_fileCount));
    if (!ini.isEmpty()) {
        QFile file(m_file);
        if (!file.open(QIODevice::WriteOnly) || file.write(ini) != ini.size())
            return Error{ErrorCode::Io, QStringLiteral("test"), QStringLiteral("cannot write ") + m_file};
    }
    QProcessEnvironment environment;
    for (const QString &assignment : env) {
        const qsizetype equals = assignment.indexOf(QLatin1Char('='));
        environment.insert(assignment.left(equals), substitute(assignment.mid(equals + 1)));
    }
    return parseConfigRequest(QStringList{QStringLiteral("forgejo-mcp-brokerd")} + substitute(args),
                              environment);
}

void tst_ConfigLoader::defaults_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("expected");

    QTest::newRow("listen: 127.0.0.1:8080") << "listen"
                                            << "127.0.0.1:8080";
    QTest::newRow("metrics_listen: off") << "metrics_listen"
                                         << "off";
    QTest::newRow("auth: oauth") << "auth"
                                 << "oauth";
    QTest::newRow("child_env: empty") << "child_env"
                                      << "";
    QTest::newRow("child_pass_env: empty") << "child_pass_env"
                                           << "";
    QTest::newRow("child_sandbox: auto") << "child_sandbox"
                                         << "auto";
    QTest::newRow("child_allow_read: empty") << "child_allow_read"
                                             << "";
    QTest::newRow("child_allow_write: empty") << "child_allow_write"
                                              << "";
    QTest::newRow("max_sessions: 1000") << "max_sessions"
                                        << "1000";
    QTest::newRow("idle_timeout: 900s") << "idle_timeout"
                                        << "900s";
    QTest::newRow("reap_interval: 30s") << "reap_interval"
                                        << "30s";
    QTest::newRow("max_batch_messages: 1000") << "max_batch_messages"
                                              << "1000";
    QTest::newRow("max_pending_requests: 1000") << "max_pending_requests"
                                                << "1000";
    QTest::newRow("input_required_ttl: 120s") << "input_required_ttl"
                                              << "120000ms";
    QTest::newRow("max_parked_calls_per_user: 16") << "max_parked_calls_per_user"
                                                   << "16";
    QTest::newRow("max_listeners_per_user: 16") << "max_listeners_per_user"
                                                << "16";
    QTest::newRow("max_subscriptions_per_session: 1000") << "max_subscriptions_per_session"
                                                         << "1000";
    QTest::newRow("allowed_origins: empty") << "allowed_origins"
                                            << "";
    QTest::newRow("max_body_bytes: 4 MiB") << "max_body_bytes"
                                           << "4194304";
    QTest::newRow("request_timeout: 30s") << "request_timeout"
                                          << "30000ms";
    QTest::newRow("keepalive_timeout: 90s") << "keepalive_timeout"
                                            << "90000ms";
    QTest::newRow("max_connections: auto") << "max_connections"
                                           << "0";
    QTest::newRow("max_connections_per_address: 256") << "max_connections_per_address"
                                                      << "256";
    QTest::newRow("child_max_line_bytes: 16 MiB") << "child_max_line_bytes"
                                                  << "16777216";
    QTest::newRow("child_stop_grace: 3s") << "child_stop_grace"
                                          << "3000ms";
    QTest::newRow("admin_socket: empty") << "admin_socket"
                                         << "";
    QTest::newRow("config: no file") << "config"
                                     << "";
    QTest::newRow("upstream_authorize_url: from forgejo_url")
        << "upstream_authorize_url"
        << "https://forge.example.org/login/oauth/authorize";
    QTest::newRow("upstream_token_url: from forgejo_url")
        << "upstream_token_url"
        << "https://forge.example.org/login/oauth/access_token";
    QTest::newRow("upstream_user_url: from forgejo_url") << "upstream_user_url"
                                                         << "https://forge.example.org/api/v1/user";
    QTest::newRow("token_env: FORGEJO_ACCESS_TOKEN") << "token_env"
                                                     << "FORGEJO_ACCESS_TOKEN";
    QTest::newRow("max_sessions_per_user: 20") << "max_sessions_per_user"
                                               << "20";
    QTest::newRow("bearer_cache_ttl: 5s") << "bearer_cache_ttl"
                                          << "5000ms";
    QTest::newRow("bearer_outage_grace: 15m") << "bearer_outage_grace"
                                              << "900000ms";
    QTest::newRow("rotate_interval: 60s") << "rotate_interval"
                                          << "60s";
    QTest::newRow("refresh_lead: 5m") << "refresh_lead"
                                      << "300s";
    QTest::newRow("access_token_ttl: 1h") << "access_token_ttl"
                                          << "3600s";
    QTest::newRow("refresh_token_ttl: 30 days") << "refresh_token_ttl"
                                                << "2592000s";
    QTest::newRow("metadata_allow_private_hosts: false") << "metadata_allow_private_hosts"
                                                         << "false";
    QTest::newRow("register_rate: 20 a minute") << "register_rate"
                                                << "20";
    QTest::newRow("max_pending_clients: 1000") << "max_pending_clients"
                                               << "1000";
    QTest::newRow("pending_client_ttl: 1h") << "pending_client_ttl"
                                            << "3600s";
    QTest::newRow("max_registration_bytes: 8 KiB") << "max_registration_bytes"
                                                   << "8192";
    QTest::newRow("event_loop: epoll") << "event_loop"
                                       << "epoll";
    QTest::newRow("log_rules: none") << "log_rules"
                                     << "";
    QTest::newRow("check_config: off") << "check_config"
                                       << "false";
}

void tst_ConfigLoader::defaults()
{
    QFETCH(QString, key);
    QFETCH(QString, expected);

    // auth takes its default, so the settings oauth requires are given.
    const Result<ConfigRequest> request = load(withOAuth(), {}, {});
    QVERIFY2(request.ok(), qPrintable(request.ok() ? QString() : request.error().message));
    QCOMPARE(field(request.value().config, key), expected);
}

void tst_ConfigLoader::setting_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QStringList>("env");
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("expected");

    const QStringList noEnv;
    const QByteArray noIni;

    // Each flag.
    QTest::newRow("--listen IPv4") << withChild({"--listen", "127.0.0.2:9000"}) << noEnv << noIni << "listen"
                                   << "127.0.0.2:9000";
    QTest::newRow("--listen port 0 picks one")
        << withChild({"--listen", "127.0.0.1:0"}) << noEnv << noIni << "listen"
        << "127.0.0.1:0";
    QTest::newRow("--listen IPv6 in brackets")
        << withChild({"--listen", "[::1]:8081"}) << noEnv << noIni << "listen"
        << "[::1]:8081";
    QTest::newRow("--listen host name")
        << withChild({"--listen", "localhost:8082"}) << noEnv << noIni << "listen"
        << "localhost:8082";
    QTest::newRow("--listen=VALUE form")
        << withChild({"--listen=127.0.0.1:9001"}) << noEnv << noIni << "listen"
        << "127.0.0.1:9001";
    QTest::newRow("--metrics-listen")
        << withChild({"--metrics-listen", "127.0.0.1:9464"}) << noEnv << noIni << "metrics_listen"
        << "127.0.0.1:9464";
    QTest::newRow("--metrics-listen IPv6")
        << withChild({"--metrics-listen", "[::1]:0"}) << noEnv << noIni << "metrics_listen"
        << "[::1]:0";
    QTest::newRow("--metrics-listen off after an address")
        << withChild({"--metrics-listen", "127.0.0.1:9464", "--metrics-listen", "off"}) << noEnv << noIni
        << "metrics_listen"
        << "off";
    QTest::newRow("--auth none") << withChild({"--auth", "none"}) << noEnv << noIni << "auth"
                                 << "none";
    QTest::newRow("--auth oauth on any address")
        << withOAuth({"--auth", "oauth", "--listen", "0.0.0.0:8080"}) << noEnv << noIni << "auth"
        << "oauth";
    QTest::newRow("--auth none overrides the oauth default")
        << childOnly({"--auth", "none"}) << noEnv << noIni << "auth"
        << "none";
    QTest::newRow("--child-command split into words")
        << words({"--auth", "none", "--child-command", "node \"my server.js\" --stdio"}) << noEnv << noIni
        << "child_command"
        << "node|my server.js|--stdio";
    QTest::newRow("--child-command program only")
        << words({"--auth", "none", "--child-command", "forgejo-mcp"}) << noEnv << noIni << "child_command"
        << "forgejo-mcp";
    QTest::newRow("--child-env once")
        << withChild({"--child-env", "TOKEN=abc"}) << noEnv << noIni << "child_env"
        << "TOKEN=abc";
    QTest::newRow("--child-env repeated keeps order")
        << withChild({"--child-env", "B_2=2", "--child-env", "_A=1", "--child-env=C=3"}) << noEnv << noIni
        << "child_env"
        << "B_2=2|_A=1|C=3";
    QTest::newRow("--child-env value with = and spaces")
        << withChild({"--child-env", "X=a=b c "}) << noEnv << noIni << "child_env"
        << "X=a=b c ";
    QTest::newRow("--child-env empty value")
        << withChild({"--child-env", "EMPTY="}) << noEnv << noIni << "child_env"
        << "EMPTY=";
    QTest::newRow("--max-sessions") << withChild({"--max-sessions", "5"}) << noEnv << noIni << "max_sessions"
                                    << "5";
    QTest::newRow("--max-sessions lower bound")
        << withChild({"--max-sessions", "1"}) << noEnv << noIni << "max_sessions"
        << "1";
    QTest::newRow("--max-sessions upper bound")
        << withChild({"--max-sessions", "100000"}) << noEnv << noIni << "max_sessions"
        << "100000";
    QTest::newRow("--request-timeout 5s")
        << withChild({"--request-timeout", "5s"}) << noEnv << noIni << "request_timeout"
        << "5000ms";
    QTest::newRow("--request-timeout 250ms")
        << withChild({"--request-timeout", "250ms"}) << noEnv << noIni << "request_timeout"
        << "250ms";
    QTest::newRow("--keepalive-timeout 2m")
        << withChild({"--keepalive-timeout", "2m"}) << noEnv << noIni << "keepalive_timeout"
        << "120000ms";
    QTest::newRow("--max-connections 500")
        << withChild({"--max-connections", "500"}) << noEnv << noIni << "max_connections"
        << "500";
    QTest::newRow("--max-connections auto")
        << withChild({"--max-connections", "auto"}) << noEnv << noIni << "max_connections"
        << "0";
    QTest::newRow("--max-connections-per-address 0 (no cap)")
        << withChild({"--max-connections-per-address", "0"}) << noEnv << noIni
        << "max_connections_per_address"
        << "0";
    QTest::newRow("FMB_MAX_CONNECTIONS_PER_ADDRESS")
        << withChild() << words({"FMB_MAX_CONNECTIONS_PER_ADDRESS=8"}) << noIni
        << "max_connections_per_address"
        << "8";
    QTest::newRow("FMB_KEEPALIVE_TIMEOUT")
        << withChild() << words({"FMB_KEEPALIVE_TIMEOUT=75"}) << noIni << "keepalive_timeout"
        << "75000ms";
    QTest::newRow("--idle-timeout plain seconds")
        << withChild({"--idle-timeout", "60"}) << noEnv << noIni << "idle_timeout"
        << "60s";
    QTest::newRow("--idle-timeout 900s")
        << withChild({"--idle-timeout", "900s"}) << noEnv << noIni << "idle_timeout"
        << "900s";
    QTest::newRow("--idle-timeout 15m")
        << withChild({"--idle-timeout", "15m"}) << noEnv << noIni << "idle_timeout"
        << "900s";
    QTest::newRow("--idle-timeout 1h")
        << withChild({"--idle-timeout", "1h"}) << noEnv << noIni << "idle_timeout"
        << "3600s";
    QTest::newRow("--idle-timeout 500ms rounds up to 1s")
        << withChild({"--idle-timeout", "500ms"}) << noEnv << noIni << "idle_timeout"
        << "1s";
    QTest::newRow("--idle-timeout 1500ms rounds up to 2s")
        << withChild({"--idle-timeout", "1500ms"}) << noEnv << noIni << "idle_timeout"
        << "2s";
    QTest::newRow("--reap-interval 5s")
        << withChild({"--reap-interval", "5s"}) << noEnv << noIni << "reap_interval"
        << "5s";
    QTest::newRow("--reap-interval 250ms rounds up")
        << withChild({"--reap-interval", "250ms"}) << noEnv << noIni << "reap_interval"
        << "1s";
    QTest::newRow("--max-batch-messages")
        << withChild({"--max-batch-messages", "50"}) << noEnv << noIni << "max_batch_messages"
        << "50";
    QTest::newRow("--max-batch-messages bounds")
        << withChild({"--max-batch-messages", "100000"}) << noEnv << noIni << "max_batch_messages"
        << "100000";
    QTest::newRow("FMB_MAX_BATCH_MESSAGES")
        << withChild() << words({"FMB_MAX_BATCH_MESSAGES=1"}) << noIni << "max_batch_messages"
        << "1";
    QTest::newRow("--max-pending-requests")
        << withChild({"--max-pending-requests", "64"}) << noEnv << noIni << "max_pending_requests"
        << "64";
    QTest::newRow("FMB_MAX_PENDING_REQUESTS")
        << withChild() << words({"FMB_MAX_PENDING_REQUESTS=100000"}) << noIni << "max_pending_requests"
        << "100000";
    QTest::newRow("--max-subscriptions-per-session")
        << withChild({"--max-subscriptions-per-session", "1000000"}) << noEnv << noIni
        << "max_subscriptions_per_session"
        << "1000000";
    QTest::newRow("FMB_MAX_SUBSCRIPTIONS_PER_SESSION")
        << withChild() << words({"FMB_MAX_SUBSCRIPTIONS_PER_SESSION=1"}) << noIni
        << "max_subscriptions_per_session"
        << "1";
    QTest::newRow("--input-required-ttl 3s")
        << withChild({"--input-required-ttl", "3s"}) << noEnv << noIni << "input_required_ttl"
        << "3000ms";
    QTest::newRow("FMB_MAX_PARKED_CALLS_PER_USER")
        << withChild() << words({"FMB_MAX_PARKED_CALLS_PER_USER=2"}) << noIni << "max_parked_calls_per_user"
        << "2";
    QTest::newRow("--max-listeners-per-user 3")
        << withChild({"--max-listeners-per-user", "3"}) << noEnv << noIni << "max_listeners_per_user"
        << "3";
    QTest::newRow("FMB_MAX_LISTENERS_PER_USER")
        << withChild() << words({"FMB_MAX_LISTENERS_PER_USER=2"}) << noIni << "max_listeners_per_user"
        << "2";
    QTest::newRow("--allowed-origin once")
        << withChild({"--allowed-origin", "https://a.example"}) << noEnv << noIni << "allowed_origins"
        << "https://a.example";
    QTest::newRow("--allowed-origin repeated")
        << withChild({"--allowed-origin", "https://a.example", "--allowed-origin", "http://localhost:3000"})
        << noEnv << noIni << "allowed_origins"
        << "https://a.example|http://localhost:3000";
    QTest::newRow("--allowed-origin duplicates dropped")
        << withChild({"--allowed-origin", "https://a.example", "--allowed-origin", "https://a.example"})
        << noEnv << noIni << "allowed_origins"
        << "https://a.example";
    QTest::newRow("--allowed-origin default port dropped")
        << withChild({"--allowed-origin", "https://a.example:443", "--allowed-origin", "http://b.example:80"})
        << noEnv << noIni << "allowed_origins"
        << "https://a.example|http://b.example";
    QTest::newRow("--allowed-origin lower-cased")
        << withChild({"--allowed-origin", "HTTPS://A.Example:8443"}) << noEnv << noIni << "allowed_origins"
        << "https://a.example:8443";
    QTest::newRow("--allowed-origin IPv6")
        << withChild({"--allowed-origin", "http://[::1]:8080"}) << noEnv << noIni << "allowed_origins"
        << "http://[::1]:8080";
    QTest::newRow("--max-body-bytes plain")
        << withChild({"--max-body-bytes", "1000"}) << noEnv << noIni << "max_body_bytes"
        << "1000";
    QTest::newRow("--max-body-bytes 512KiB")
        << withChild({"--max-body-bytes", "512KiB"}) << noEnv << noIni << "max_body_bytes"
        << "524288";
    QTest::newRow("--max-body-bytes 4MiB")
        << withChild({"--max-body-bytes", "4MiB"}) << noEnv << noIni << "max_body_bytes"
        << "4194304";
    QTest::newRow("--max-body-bytes 1GiB")
        << withChild({"--max-body-bytes", "1GiB"}) << noEnv << noIni << "max_body_bytes"
        << "1073741824";
    QTest::newRow("--child-max-line-bytes 1MiB")
        << withChild({"--child-max-line-bytes", "1MiB"}) << noEnv << noIni << "child_max_line_bytes"
        << "1048576";
    QTest::newRow("--child-stop-grace 250ms")
        << withChild({"--child-stop-grace", "250ms"}) << noEnv << noIni << "child_stop_grace"
        << "250ms";
    QTest::newRow("--child-stop-grace 2s")
        << withChild({"--child-stop-grace", "2s"}) << noEnv << noIni << "child_stop_grace"
        << "2000ms";
    QTest::newRow("--child-stop-grace plain seconds")
        << withChild({"--child-stop-grace", "5"}) << noEnv << noIni << "child_stop_grace"
        << "5000ms";
    QTest::newRow("--public-url") << withChild({"--public-url", "https://mcp.example.org"}) << noEnv << noIni
                                  << "public_url"
                                  << "https://mcp.example.org";
    QTest::newRow("--public-url trailing slash removed")
        << withChild({"--public-url", "https://mcp.example.org/"}) << noEnv << noIni << "public_url"
        << "https://mcp.example.org";
    QTest::newRow("--public-url with a path")
        << withChild({"--public-url", "http://host:8080/broker/"}) << noEnv << noIni << "public_url"
        << "http://host:8080/broker";
    QTest::newRow("--public-url empty stays unset")
        << withChild({"--public-url", ""}) << noEnv << noIni << "public_url"
        << "";
    QTest::newRow("--admin-socket") << withChild({"--admin-socket", "/tmp/fmb-admin.sock"}) << noEnv << noIni
                                    << "admin_socket"
                                    << "/tmp/fmb-admin.sock";
    QTest::newRow("--admin-socket relative: from the working directory")
        << withChild({"--admin-socket", "run/../rel/admin.sock"}) << noEnv << noIni << "admin_socket"
        << QDir::currentPath() + QLatin1String("/rel/admin.sock");
    QTest::newRow("--audit-log") << withChild({"--audit-log", "/var/log/fmb/audit.log"}) << noEnv << noIni
                                 << "audit_log"
                                 << "/var/log/fmb/audit.log";
    QTest::newRow("--audit-log journal")
        << withChild({"--audit-log", "journal"}) << noEnv << noIni << "audit_log"
        << "journal";
    QTest::newRow("--forgejo-url") << withChild({"--forgejo-url", "https://forge.example.org"}) << noEnv
                                   << noIni << "forgejo_url"
                                   << "https://forge.example.org";
    QTest::newRow("--forgejo-url trailing slashes removed")
        << withChild({"--forgejo-url", "https://forge.example.org//"}) << noEnv << noIni << "forgejo_url"
        << "https://forge.example.org";
    QTest::newRow("--forgejo-url with a port and a path")
        << withChild({"--forgejo-url", "http://git.lan:3000/forgejo/"}) << noEnv << noIni << "forgejo_url"
        << "http://git.lan:3000/forgejo";
    QTest::newRow("--forgejo-url empty stays unset")
        << withChild({"--forgejo-url", ""}) << noEnv << noIni << "forgejo_url"
        << "";
    QTest::newRow("--forgejo-client-id")
        << withChild({"--forgejo-client-id", "3f1c9a2e-8d4b-4b7e-9f00-1a2b3c4d5e6f"}) << noEnv << noIni
        << "forgejo_client_id"
        << "3f1c9a2e-8d4b-4b7e-9f00-1a2b3c4d5e6f";
    QTest::newRow("--forgejo-client-secret-file is only a path")
        << withChild({"--forgejo-client-secret-file", "/nonexistent/secret"}) << noEnv << noIni
        << "forgejo_client_secret_file"
        << "/nonexistent/secret";
    QTest::newRow("--state-dir") << withChild({"--state-dir", "/srv/fmb"}) << noEnv << noIni << "state_dir"
                                 << "/srv/fmb";
    QTest::newRow("--database sqlite:PATH")
        << withChild({"--database", "sqlite:/srv/fmb/broker.sqlite3"}) << noEnv << noIni << "database"
        << "sqlite:/srv/fmb/broker.sqlite3";
    QTest::newRow("--database postgresql over TCP")
        << withChild({"--database", "postgresql://broker@db.example.org:5433/fmb"}) << noEnv << noIni
        << "database"
        << "postgresql://broker@db.example.org:5433/fmb";
    QTest::newRow("--database postgresql over a Unix socket")
        << withChild({"--database", "postgresql://broker@/fmb?host=/run/postgresql"}) << noEnv << noIni
        << "database"
        << "postgresql://broker@/fmb?host=/run/postgresql";
    QTest::newRow("--secret-key-file is only a path")
        << withChild({"--secret-key-file", "/nonexistent/upstream.key"}) << noEnv << noIni
        << "secret_key_file"
        << "/nonexistent/upstream.key";
    QTest::newRow("--node-id") << withChild({"--node-id", "web-1.eu_2"}) << noEnv << noIni << "node_id"
                               << "web-1.eu_2";
    QTest::newRow("--node-id of 32 characters")
        << withChild({"--node-id", QString(32, QLatin1Char('n'))}) << noEnv << noIni << "node_id"
        << QString(32, QLatin1Char('n'));
    QTest::newRow("--database-password-file is only a path")
        << withChild({"--database-password-file", "/nonexistent/pg-password"}) << noEnv << noIni
        << "database_password_file"
        << "/nonexistent/pg-password";
    QTest::newRow("--upstream-authorize-url wins over the derived one")
        << withOAuth({"--upstream-authorize-url", "https://sso.example.org/oauth/authorize/"}) << noEnv
        << noIni << "upstream_authorize_url"
        << "https://sso.example.org/oauth/authorize/";
    QTest::newRow("--upstream-token-url wins over the derived one")
        << withOAuth({"--upstream-token-url", "https://sso.example.org/oauth/token"}) << noEnv << noIni
        << "upstream_token_url"
        << "https://sso.example.org/oauth/token";
    QTest::newRow("--upstream-user-url wins over the derived one")
        << withOAuth({"--upstream-user-url", "http://127.0.0.1:3000/api/v1/user"}) << noEnv << noIni
        << "upstream_user_url"
        << "http://127.0.0.1:3000/api/v1/user";
    QTest::newRow("--upstream-token-url empty: derived")
        << withOAuth({"--upstream-token-url", ""}) << noEnv << noIni << "upstream_token_url"
        << "https://forge.example.org/login/oauth/access_token";
    QTest::newRow("upstream URLs derived below a forgejo_url path")
        << withOAuth({"--forgejo-url", "http://git.lan:3000/forgejo/"}) << noEnv << noIni
        << "upstream_authorize_url"
        << "http://git.lan:3000/forgejo/login/oauth/authorize";
    QTest::newRow("upstream user URL derived below a forgejo_url path")
        << withOAuth({"--forgejo-url", "http://git.lan:3000/forgejo"}) << noEnv << noIni
        << "upstream_user_url"
        << "http://git.lan:3000/forgejo/api/v1/user";
    QTest::newRow("upstream URLs derived from FMB_FORGEJO_URL")
        << childOnly({"--public-url", "https://mcp.example.org", "--forgejo-client-id", "c",
                      "--forgejo-client-secret-file", "/s"})
        << words({"FMB_FORGEJO_URL=https://env.example.org/"}) << noIni << "upstream_token_url"
        << "https://env.example.org/login/oauth/access_token";
    QTest::newRow("local mode: upstream URLs not derived")
        << withChild({"--forgejo-url", "https://forge.example.org"}) << noEnv << noIni
        << "upstream_authorize_url"
        << "";
    QTest::newRow("local mode: state_dir not filled in") << withChild() << noEnv << noIni << "state_dir"
                                                         << "";
    QTest::newRow("local mode: OAuth settings kept, none required")
        << withChild({"--forgejo-client-id", "fmb-client"}) << noEnv << noIni << "forgejo_client_id"
        << "fmb-client";
    QTest::newRow("local mode: public_url empty by default") << withChild() << noEnv << noIni << "public_url"
                                                             << "";
    QTest::newRow("--token-env") << withChild({"--token-env", "GITEA_TOKEN"}) << noEnv << noIni << "token_env"
                                 << "GITEA_TOKEN";
    QTest::newRow("--token-env leading underscore")
        << withChild({"--token-env", "_t0ken"}) << noEnv << noIni << "token_env"
        << "_t0ken";
    QTest::newRow("--register-rate 0 = no limit")
        << withChild({"--register-rate", "0"}) << noEnv << noIni << "register_rate"
        << "0";
    QTest::newRow("--max-pending-clients")
        << withChild({"--max-pending-clients", "50"}) << noEnv << noIni << "max_pending_clients"
        << "50";
    QTest::newRow("--pending-client-ttl 10m")
        << withChild({"--pending-client-ttl", "10m"}) << noEnv << noIni << "pending_client_ttl"
        << "600s";
    QTest::newRow("--max-registration-bytes 4KiB")
        << withChild({"--max-registration-bytes", "4KiB"}) << noEnv << noIni << "max_registration_bytes"
        << "4096";
    QTest::newRow("--max-sessions-per-user")
        << withChild({"--max-sessions-per-user", "5"}) << noEnv << noIni << "max_sessions_per_user"
        << "5";
    QTest::newRow("--max-sessions-per-user 0 = no per-user cap")
        << withChild({"--max-sessions-per-user", "0"}) << noEnv << noIni << "max_sessions_per_user"
        << "0";
    QTest::newRow("--max-sessions-per-user upper bound")
        << withChild({"--max-sessions-per-user", "100000"}) << noEnv << noIni << "max_sessions_per_user"
        << "100000";
    QTest::newRow("--bearer-cache-ttl 500ms")
        << withChild({"--bearer-cache-ttl", "500ms"}) << noEnv << noIni << "bearer_cache_ttl"
        << "500ms";
    QTest::newRow("--bearer-outage-grace 1h")
        << withChild({"--bearer-outage-grace", "1h"}) << noEnv << noIni << "bearer_outage_grace"
        << "3600000ms";
    QTest::newRow("--rotate-interval 30s")
        << withChild({"--rotate-interval", "30s"}) << noEnv << noIni << "rotate_interval"
        << "30s";
    QTest::newRow("--rotate-interval 500ms rounds up")
        << withChild({"--rotate-interval", "500ms"}) << noEnv << noIni << "rotate_interval"
        << "1s";
    QTest::newRow("--refresh-lead 10m")
        << withChild({"--refresh-lead", "10m"}) << noEnv << noIni << "refresh_lead"
        << "600s";
    QTest::newRow("--access-token-ttl 15m")
        << withChild({"--access-token-ttl", "15m"}) << noEnv << noIni << "access_token_ttl"
        << "900s";
    QTest::newRow("--access-token-ttl upper bound 24h")
        << withChild({"--access-token-ttl", "24h"}) << noEnv << noIni << "access_token_ttl"
        << "86400s";
    QTest::newRow("--refresh-token-ttl 720h")
        << withChild({"--refresh-token-ttl", "720h"}) << noEnv << noIni << "refresh_token_ttl"
        << "2592000s";
    QTest::newRow("--refresh-token-ttl upper bound 8760h")
        << withChild({"--refresh-token-ttl", "8760h"}) << noEnv << noIni << "refresh_token_ttl"
        << "31536000s";
    QTest::newRow("--metadata-allow-private-hosts bare")
        << withChild({"--metadata-allow-private-hosts"}) << noEnv << noIni << "metadata_allow_private_hosts"
        << "true";
    QTest::newRow("--metadata-allow-private-hosts last")
        << withChild({"--max-sessions", "3", "--metadata-allow-private-hosts"}) << noEnv << noIni
        << "metadata_allow_private_hosts"
        << "true";
    QTest::newRow("--metadata-allow-private-hosts takes no next argument")
        << withChild({"--metadata-allow-private-hosts", "--max-sessions", "3"}) << noEnv << noIni
        << "max_sessions"
        << "3";
    QTest::newRow("--metadata-allow-private-hosts=false")
        << withChild({"--metadata-allow-private-hosts=false"}) << noEnv << noIni
        << "metadata_allow_private_hosts"
        << "false";
    QTest::newRow("--metadata-allow-private-hosts=0")
        << withChild({"--metadata-allow-private-hosts=0"}) << noEnv << noIni << "metadata_allow_private_hosts"
        << "false";
    QTest::newRow("--metadata-allow-private-hosts=1")
        << withChild({"--metadata-allow-private-hosts=1"}) << noEnv << noIni << "metadata_allow_private_hosts"
        << "true";
    QTest::newRow("--event-loop qt") << withChild({"--event-loop", "qt"}) << noEnv << noIni << "event_loop"
                                     << "qt";
    QTest::newRow("--event-loop epoll")
        << withChild({"--event-loop", "epoll"}) << noEnv << noIni << "event_loop"
        << "epoll";
    QTest::newRow("--log-rules twice")
        << withChild({"--log-rules", "fmb.http.debug=true", "--log-rules", "fmb.*.info = false"}) << noEnv
        << noIni << "log_rules"
        << "fmb.http.debug=true|fmb.*.info=false";
    QTest::newRow("FMB_LOG_RULES") << withChild() << words({"FMB_LOG_RULES=*.debug=false,fmb.session=true"})
                                   << noIni << "log_rules"
                                   << "*.debug=false|fmb.session=true";
    QTest::newRow("--check-config") << withChild({"--check-config"}) << noEnv << noIni << "check_config"
                                    << "true";
    QTest::newRow("--check-config=false")
        << withChild({"--check-config=false"}) << noEnv << noIni << "check_config"
        << "false";
    QTest::newRow("FMB_CHECK_CONFIG")
        << withChild() << words({"FMB_CHECK_CONFIG=1"}) << noIni << "check_config"
        << "true";
    QTest::newRow("--config names the file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("max_sessions = 3\n") << "config"
        << "%FILE%";
    QTest::newRow("value is trimmed")
        << withChild({"--max-sessions", " 12 "}) << noEnv << noIni << "max_sessions"
        << "12";

    // Each FMB_* variable.
    QTest::newRow("FMB_LISTEN") << withChild() << words({"FMB_LISTEN=127.0.0.1:9100"}) << noIni << "listen"
                                << "127.0.0.1:9100";
    QTest::newRow("FMB_METRICS_LISTEN")
        << withChild() << words({"FMB_METRICS_LISTEN=127.0.0.1:9465"}) << noIni << "metrics_listen"
        << "127.0.0.1:9465";
    QTest::newRow("FMB_EVENT_LOOP") << withChild() << words({"FMB_EVENT_LOOP=qt"}) << noIni << "event_loop"
                                    << "qt";
    QTest::newRow("FMB_AUTH none") << childOnly() << words({"FMB_AUTH=none"}) << noIni << "auth"
                                   << "none";
    QTest::newRow("FMB_AUTH oauth") << withOAuth() << words({"FMB_AUTH=oauth"}) << noIni << "auth"
                                    << "oauth";
    QTest::newRow("--auth flag overrides FMB_AUTH")
        << withChild() << words({"FMB_AUTH=oauth"}) << noIni << "auth"
        << "none";
    QTest::newRow("FMB_CHILD_COMMAND")
        << words({"--auth", "none"}) << words({"FMB_CHILD_COMMAND=srv --stdio"}) << noIni << "child_command"
        << "srv|--stdio";
    QTest::newRow("FMB_CHILD_ENV one entry per line")
        << withChild() << words({"FMB_CHILD_ENV=A=1\nB=2"}) << noIni << "child_env"
        << "A=1|B=2";
    QTest::newRow("FMB_CHILD_ENV CRLF and blank lines")
        << withChild() << words({"FMB_CHILD_ENV=A=1\r\n\r\nB=2\r\n"}) << noIni << "child_env"
        << "A=1|B=2";
    QTest::newRow("FMB_MAX_SESSIONS")
        << withChild() << words({"FMB_MAX_SESSIONS=77"}) << noIni << "max_sessions"
        << "77";
    QTest::newRow("FMB_IDLE_TIMEOUT")
        << withChild() << words({"FMB_IDLE_TIMEOUT=2m"}) << noIni << "idle_timeout"
        << "120s";
    QTest::newRow("FMB_REAP_INTERVAL")
        << withChild() << words({"FMB_REAP_INTERVAL=10"}) << noIni << "reap_interval"
        << "10s";
    QTest::newRow("FMB_ALLOWED_ORIGINS comma-separated")
        << withChild() << words({"FMB_ALLOWED_ORIGINS=https://a.example, http://localhost:3000,"}) << noIni
        << "allowed_origins"
        << "https://a.example|http://localhost:3000";
    QTest::newRow("FMB_MAX_BODY_BYTES")
        << withChild() << words({"FMB_MAX_BODY_BYTES=64KiB"}) << noIni << "max_body_bytes"
        << "65536";
    QTest::newRow("FMB_CHILD_MAX_LINE_BYTES")
        << withChild() << words({"FMB_CHILD_MAX_LINE_BYTES=2048"}) << noIni << "child_max_line_bytes"
        << "2048";
    QTest::newRow("FMB_CHILD_STOP_GRACE")
        << withChild() << words({"FMB_CHILD_STOP_GRACE=100ms"}) << noIni << "child_stop_grace"
        << "100ms";
    QTest::newRow("FMB_PUBLIC_URL") << withChild() << words({"FMB_PUBLIC_URL=https://x.example/"}) << noIni
                                    << "public_url"
                                    << "https://x.example";
    QTest::newRow("FMB_ADMIN_SOCKET")
        << withChild() << words({"FMB_ADMIN_SOCKET=/run/a.sock"}) << noIni << "admin_socket"
        << "/run/a.sock";
    QTest::newRow("FMB_AUDIT_LOG") << withChild() << words({"FMB_AUDIT_LOG=-"}) << noIni << "audit_log"
                                   << "-";
    QTest::newRow("FMB_FORGEJO_URL") << withChild() << words({"FMB_FORGEJO_URL=https://forge.example.org/"})
                                     << noIni << "forgejo_url"
                                     << "https://forge.example.org";
    QTest::newRow("FMB_FORGEJO_CLIENT_ID")
        << withChild() << words({"FMB_FORGEJO_CLIENT_ID=env-client"}) << noIni << "forgejo_client_id"
        << "env-client";
    QTest::newRow("FMB_FORGEJO_CLIENT_SECRET_FILE")
        << withChild() << words({"FMB_FORGEJO_CLIENT_SECRET_FILE=/run/secrets/fmb"}) << noIni
        << "forgejo_client_secret_file"
        << "/run/secrets/fmb";
    QTest::newRow("FMB_STATE_DIR") << withChild() << words({"FMB_STATE_DIR=/srv/fmb-state"}) << noIni
                                   << "state_dir"
                                   << "/srv/fmb-state";
    QTest::newRow("FMB_DATABASE") << withChild() << words({"FMB_DATABASE=postgresql://b@pg:5432/fmb"})
                                  << noIni << "database"
                                  << "postgresql://b@pg:5432/fmb";
    QTest::newRow("FMB_SECRET_KEY_FILE")
        << withChild() << words({"FMB_SECRET_KEY_FILE=/etc/fmb/upstream.key"}) << noIni << "secret_key_file"
        << "/etc/fmb/upstream.key";
    QTest::newRow("FMB_NODE_ID") << withChild() << words({"FMB_NODE_ID=broker-b"}) << noIni << "node_id"
                                 << "broker-b";
    QTest::newRow("FMB_UPSTREAM_AUTHORIZE_URL")
        << withChild() << words({"FMB_UPSTREAM_AUTHORIZE_URL=https://sso.example.org/a"}) << noIni
        << "upstream_authorize_url"
        << "https://sso.example.org/a";
    QTest::newRow("FMB_UPSTREAM_TOKEN_URL")
        << withChild() << words({"FMB_UPSTREAM_TOKEN_URL=https://sso.example.org/t"}) << noIni
        << "upstream_token_url"
        << "https://sso.example.org/t";
    QTest::newRow("FMB_UPSTREAM_USER_URL")
        << withChild() << words({"FMB_UPSTREAM_USER_URL=https://sso.example.org/u"}) << noIni
        << "upstream_user_url"
        << "https://sso.example.org/u";
    QTest::newRow("FMB_TOKEN_ENV") << withChild() << words({"FMB_TOKEN_ENV=FORGEJO_TOKEN"}) << noIni
                                   << "token_env"
                                   << "FORGEJO_TOKEN";
    QTest::newRow("FMB_MAX_SESSIONS_PER_USER")
        << withChild() << words({"FMB_MAX_SESSIONS_PER_USER=3"}) << noIni << "max_sessions_per_user"
        << "3";
    QTest::newRow("FMB_ROTATE_INTERVAL")
        << withChild() << words({"FMB_ROTATE_INTERVAL=2m"}) << noIni << "rotate_interval"
        << "120s";
    QTest::newRow("FMB_REFRESH_LEAD")
        << withChild() << words({"FMB_REFRESH_LEAD=90"}) << noIni << "refresh_lead"
        << "90s";
    QTest::newRow("FMB_ACCESS_TOKEN_TTL")
        << withChild() << words({"FMB_ACCESS_TOKEN_TTL=30m"}) << noIni << "access_token_ttl"
        << "1800s";
    QTest::newRow("FMB_REFRESH_TOKEN_TTL")
        << withChild() << words({"FMB_REFRESH_TOKEN_TTL=168h"}) << noIni << "refresh_token_ttl"
        << "604800s";
    QTest::newRow("FMB_METADATA_ALLOW_PRIVATE_HOSTS=1")
        << withChild() << words({"FMB_METADATA_ALLOW_PRIVATE_HOSTS=1"}) << noIni
        << "metadata_allow_private_hosts"
        << "true";
    QTest::newRow("FMB_METADATA_ALLOW_PRIVATE_HOSTS=true")
        << withChild() << words({"FMB_METADATA_ALLOW_PRIVATE_HOSTS=true"}) << noIni
        << "metadata_allow_private_hosts"
        << "true";
    QTest::newRow("FMB_METADATA_ALLOW_PRIVATE_HOSTS=0")
        << withChild() << words({"FMB_METADATA_ALLOW_PRIVATE_HOSTS=0"}) << noIni
        << "metadata_allow_private_hosts"
        << "false";
    QTest::newRow("FMB_METADATA_ALLOW_PRIVATE_HOSTS=false")
        << withChild() << words({"FMB_METADATA_ALLOW_PRIVATE_HOSTS=false"}) << noIni
        << "metadata_allow_private_hosts"
        << "false";
    QTest::newRow("--metadata-allow-private-hosts=false overrides the variable")
        << withChild({"--metadata-allow-private-hosts=false"})
        << words({"FMB_METADATA_ALLOW_PRIVATE_HOSTS=1"}) << noIni << "metadata_allow_private_hosts"
        << "false";
    QTest::newRow("FMB_CONFIG names the file")
        << withChild() << words({"FMB_CONFIG=%FILE%"}) << QByteArray("max_sessions = 7\n") << "max_sessions"
        << "7";
    QTest::newRow("empty FMB_* counts as unset")
        << withChild() << words({"FMB_MAX_SESSIONS="}) << noIni << "max_sessions"
        << "1000";
    QTest::newRow("unrelated variables ignored")
        << withChild() << words({"FMB_UNKNOWN=1", "PATH=/bin"}) << noIni << "max_sessions"
        << "1000";

    // Precedence: flag over env over file over default.
    const QByteArray sevenSessions("max_sessions = 7\n");
    QTest::newRow("file over default")
        << withChild({"--config", "%FILE%"}) << noEnv << sevenSessions << "max_sessions"
        << "7";
    QTest::newRow("env overrides file") << withChild({"--config", "%FILE%"}) << words({"FMB_MAX_SESSIONS=8"})
                                        << sevenSessions << "max_sessions"
                                        << "8";
    QTest::newRow("flag overrides env") << withChild({"--config", "%FILE%", "--max-sessions", "9"})
                                        << words({"FMB_MAX_SESSIONS=8"}) << sevenSessions << "max_sessions"
                                        << "9";
    QTest::newRow("flag overrides file") << withChild({"--config", "%FILE%", "--max-sessions", "9"}) << noEnv
                                         << sevenSessions << "max_sessions"
                                         << "9";
    QTest::newRow("--config flag overrides FMB_CONFIG")
        << withChild({"--config", "%FILE%"}) << words({"FMB_CONFIG=/nonexistent/broker.ini"}) << sevenSessions
        << "max_sessions"
        << "7";
    QTest::newRow("env list replaces file list")
        << withChild({"--config", "%FILE%"}) << words({"FMB_ALLOWED_ORIGINS=https://b.example"})
        << QByteArray("allowed_origins = https://a.example\n") << "allowed_origins"
        << "https://b.example";
    QTest::newRow("flag list replaces env list")
        << withChild({"--child-env", "B=2"}) << words({"FMB_CHILD_ENV=A=1"}) << noIni << "child_env"
        << "B=2";
    QTest::newRow("repeated scalar flag: last wins")
        << withChild({"--max-sessions", "3", "--max-sessions", "4"}) << noEnv << noIni << "max_sessions"
        << "4";
    QTest::newRow("flag child command over env") << words({"--auth", "none", "--child-command", "a"})
                                                 << words({"FMB_CHILD_COMMAND=b"}) << noIni << "child_command"
                                                 << "a";

    // INI file forms.
    QTest::newRow("INI list on one line")
        << withChild({"--config", "%FILE%"}) << noEnv
        << QByteArray("allowed_origins = https://a.example, https://b.example\n") << "allowed_origins"
        << "https://a.example|https://b.example";
    QTest::newRow("--child-pass-env repeated, duplicates dropped")
        << withChild({"--child-pass-env", "HTTPS_PROXY", "--child-pass-env", "NO_PROXY", "--child-pass-env",
                      "HTTPS_PROXY"})
        << noEnv << noIni << "child_pass_env"
        << "HTTPS_PROXY|NO_PROXY";
    QTest::newRow("FMB_CHILD_PASS_ENV comma-separated")
        << withChild() << words({"FMB_CHILD_PASS_ENV=HTTPS_PROXY, NO_PROXY"}) << noIni << "child_pass_env"
        << "HTTPS_PROXY|NO_PROXY";
    QTest::newRow("--child-sandbox off")
        << withChild({"--child-sandbox", "off"}) << noEnv << noIni << "child_sandbox"
        << "off";
    QTest::newRow("FMB_CHILD_SANDBOX require")
        << withChild() << words({"FMB_CHILD_SANDBOX=require"}) << noIni << "child_sandbox"
        << "require";
    QTest::newRow("--child-allow-read cleaned paths")
        << withChild({"--child-allow-read", "/srv/app/../node_modules/", "--child-allow-read", "/opt/x"})
        << noEnv << noIni << "child_allow_read"
        << "/srv/node_modules|/opt/x";
    QTest::newRow("FMB_CHILD_ALLOW_WRITE comma-separated")
        << withChild() << words({"FMB_CHILD_ALLOW_WRITE=/var/cache/a,/var/cache/b"}) << noIni
        << "child_allow_write"
        << "/var/cache/a|/var/cache/b";
    QTest::newRow("INI child_env list")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("child_env = A=1, B=2\n") << "child_env"
        << "A=1|B=2";
    QTest::newRow("INI quoted child_env keeps its comma")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("child_env = \"K=a,b;c\"\n")
        << "child_env"
        << "K=a,b;c";
    QTest::newRow("INI quoted child_command")
        << words({"--auth", "none", "--config", "%FILE%"}) << noEnv
        << QByteArray("child_command = \"node \\\"x y.js\\\" --stdio\"\n") << "child_command"
        << "node|x y.js|--stdio";
    QTest::newRow("INI [General] is the top level")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("[General]\nmax_sessions = 6\n")
        << "max_sessions"
        << "6";
    QTest::newRow("INI comments and blank lines")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("; a comment\n\nmax_sessions = 5\n")
        << "max_sessions"
        << "5";
    QTest::newRow("INI empty file") << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("\n")
                                    << "max_sessions"
                                    << "1000";
    QTest::newRow("INI auth = none overrides the oauth default")
        << childOnly({"--config", "%FILE%"}) << noEnv << QByteArray("auth = none\n") << "auth"
        << "none";
    QTest::newRow("INI metadata_allow_private_hosts = false")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("metadata_allow_private_hosts = false\n")
        << "metadata_allow_private_hosts"
        << "false";
    QTest::newRow("INI metadata_allow_private_hosts = 1")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("metadata_allow_private_hosts = 1\n")
        << "metadata_allow_private_hosts"
        << "true";
    QTest::newRow("INI OAuth settings, upstream URLs derived")
        << childOnly({"--config", "%FILE%"}) << noEnv
        << QByteArray("public_url = https://mcp.example.org\n"
                      "forgejo_url = https://ini.example.org/\n"
                      "forgejo_client_id = ini-client\n"
                      "forgejo_client_secret_file = /etc/fmb/secret\n")
        << "upstream_user_url"
        << "https://ini.example.org/api/v1/user";
}

void tst_ConfigLoader::setting()
{
    QFETCH(QStringList, args);
    QFETCH(QStringList, env);
    QFETCH(QByteArray, ini);
    QFETCH(QString, key);
    QFETCH(QString, expected);

    const Result<ConfigRequest> request = load(args, env, ini);
    QVERIFY2(request.ok(), qPrintable(request.ok() ? QString() : request.error().message));
    QCOMPARE(field(request.value().config, key), substitute(expected));
}

void tst_ConfigLoader::iniEveryKey_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("expected");

    // What the file in iniEveryKey() sets each key to, after parsing.
    const QList<QPair<const char *, const char *>> expected{
        {"config", "%FILE%"},
        {"check_config", "false"}, // not a key of the file: it keeps its default
        {"listen", "[::1]:9200"},
        {"metrics_listen", "127.0.0.1:9466"},
        {"auth", "oauth"},
        {"child_command", "node|server.js|--stdio"},
        {"child_env", "A=1|B=2"},
        {"max_sessions", "42"},
        {"idle_timeout", "600s"},
        {"reap_interval", "15s"},
        {"max_batch_messages", "200"},
        {"max_pending_requests", "300"},
        {"max_subscriptions_per_session", "400"},
        {"input_required_ttl", "45000ms"},
        {"max_parked_calls_per_user", "5"},
        {"max_listeners_per_user", "6"},
        {"allowed_origins", "https://a.example|http://localhost:3000"},
        {"max_body_bytes", "2097152"},
        {"request_timeout", "10000ms"},
        {"keepalive_timeout", "60000ms"},
        {"max_connections", "300"},
        {"max_connections_per_address", "12"},
        {"child_max_line_bytes", "8388608"},
        {"child_stop_grace", "750ms"},
        {"child_stdio", "socket"},
        {"child_pass_env", "HTTPS_PROXY|NO_PROXY"},
        {"child_sandbox", "require"},
        {"child_allow_read", "/srv/node_modules|/opt/tools"},
        {"child_allow_write", "/var/cache/fmb-child"},
        {"public_url", "https://mcp.example.org"},
        {"admin_socket", "/run/fmb/admin.sock"},
        {"audit_log", "/var/log/fmb/audit.log"},
        {"forgejo_url", "https://forge.example.org"},
        {"forgejo_client_id", "fmb-client"},
        {"forgejo_client_secret_file", "/etc/fmb/client-secret"},
        {"state_dir", "/var/lib/fmb-test"},
        {"database", "postgresql://broker@db.example.org:5432/fmb"},
        {"database_password_file", "/etc/fmb/pg-password"},
        {"node_id", "web1-8080"},
        {"secret_key_file", "/etc/fmb/upstream.key"},
        {"upstream_authorize_url", "https://sso.example.org/authorize"},
        {"upstream_token_url", "https://sso.example.org/token"},
        {"upstream_user_url", "https://sso.example.org/user"},
        {"token_env", "GITEA_TOKEN"},
        {"max_sessions_per_user", "7"},
        {"bearer_cache_ttl", "2000ms"},
        {"bearer_outage_grace", "600000ms"},
        {"rotate_interval", "45s"},
        {"refresh_lead", "120s"},
        {"access_token_ttl", "1200s"},
        {"refresh_token_ttl", "1209600s"},
        {"metadata_allow_private_hosts", "true"},
        {"register_rate", "5"},
        {"max_pending_clients", "200"},
        {"pending_client_ttl", "1800s"},
        {"max_registration_bytes", "16384"},
        {"event_loop", "qt"},
        {"log_rules", "fmb.http.debug=true|fmb.oauth.info=false"},
    };
    // Rows come from the table, so a new setting fails here until the file covers it.
    for (const ConfigSetting &setting : configSettings()) {
        QString value = QStringLiteral("<add this key to the file in iniEveryKey()>");
        for (const auto &[key, text] : expected) {
            if (setting.key == QLatin1String(key))
                value = QString::fromUtf8(text);
        }
        QTest::addRow("%s", qPrintable(setting.key)) << setting.key << value;
    }
}

void tst_ConfigLoader::iniEveryKey()
{
    QFETCH(QString, key);
    QFETCH(QString, expected);

    const QByteArray ini("listen = [::1]:9200\n"
                         "metrics_listen = 127.0.0.1:9466\n"
                         "auth = oauth\n"
                         "child_command = node server.js --stdio\n"
                         "child_env = A=1, B=2\n"
                         "max_sessions = 42\n"
                         "idle_timeout = 10m\n"
                         "reap_interval = 15s\n"
                         "max_batch_messages = 200\n"
                         "max_pending_requests = 300\n"
                         "max_subscriptions_per_session = 400\n"
                         "input_required_ttl = 45s\n"
                         "max_parked_calls_per_user = 5\n"
                         "max_listeners_per_user = 6\n"
                         "allowed_origins = https://a.example, http://localhost:3000\n"
                         "max_body_bytes = 2MiB\n"
                         "request_timeout = 10s\n"
                         "keepalive_timeout = 1m\n"
                         "max_connections = 300\n"
                         "max_connections_per_address = 12\n"
                         "child_max_line_bytes = 8MiB\n"
                         "child_stop_grace = 750ms\n"
                         "child_stdio = socket\n"
                         "child_pass_env = HTTPS_PROXY, NO_PROXY\n"
                         "child_sandbox = require\n"
                         "child_allow_read = /srv/node_modules/, /opt/tools\n"
                         "child_allow_write = /var/cache/fmb-child\n"
                         "public_url = https://mcp.example.org/\n"
                         "admin_socket = /run/fmb/admin.sock\n"
                         "audit_log = /var/log/fmb/audit.log\n"
                         "forgejo_url = https://forge.example.org/\n"
                         "forgejo_client_id = fmb-client\n"
                         "forgejo_client_secret_file = /etc/fmb/client-secret\n"
                         "state_dir = /var/lib/fmb-test\n"
                         "database = postgresql://broker@db.example.org:5432/fmb\n"
                         "database_password_file = /etc/fmb/pg-password\n"
                         "node_id = web1-8080\n"
                         "secret_key_file = /etc/fmb/upstream.key\n"
                         "upstream_authorize_url = https://sso.example.org/authorize\n"
                         "upstream_token_url = https://sso.example.org/token\n"
                         "upstream_user_url = https://sso.example.org/user\n"
                         "token_env = GITEA_TOKEN\n"
                         "max_sessions_per_user = 7\n"
                         "bearer_cache_ttl = 2s\n"
                         "bearer_outage_grace = 10m\n"
                         "rotate_interval = 45s\n"
                         "refresh_lead = 2m\n"
                         "access_token_ttl = 20m\n"
                         "refresh_token_ttl = 336h\n"
                         "metadata_allow_private_hosts = true\n"
                         "register_rate = 5\n"
                         "max_pending_clients = 200\n"
                         "pending_client_ttl = 30m\n"
                         "max_registration_bytes = 16KiB\n"
                         "event_loop = qt\n"
                         "log_rules = fmb.http.debug=true, fmb.oauth.info=false\n");
    const Result<ConfigRequest> request = load(words({"--config", "%FILE%"}), {}, ini);
    QVERIFY2(request.ok(), qPrintable(request.ok() ? QString() : request.error().message));
    QCOMPARE(field(request.value().config, key), substitute(expected));
}

void tst_ConfigLoader::rejected_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QStringList>("env");
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<fmb::ErrorCode>("code");
    QTest::addColumn<QString>("subject");
    QTest::addColumn<QStringList>("messageParts");

    const QStringList noEnv;
    const QByteArray noIni;
    const ErrorCode invalid = ErrorCode::InvalidArgument;

    // The command line itself.
    QTest::newRow("unknown flag") << withChild({"--lisen", "127.0.0.1:1"}) << noEnv << noIni << invalid
                                  << "--lisen" << words({"--lisen: unknown flag"});
    QTest::newRow("unknown flag with =value") << withChild({"--lisen=127.0.0.1:1"}) << noEnv << noIni
                                              << invalid << "--lisen" << words({"--lisen: unknown flag"});
    QTest::newRow("single-dash flag") << withChild({"-listen", "x"}) << noEnv << noIni << invalid << "-listen"
                                      << words({"-listen: unknown flag"});
    QTest::newRow("stray argument") << withChild({"serve"}) << noEnv << noIni << invalid << "command line"
                                    << words({"argument 5 is not a flag"});

    // --database (issue 14): what a URL lacks, said with the forms that work.
    QTest::newRow("database: unknown scheme")
        << withChild({"--database", "mysql://b@db/fmb"}) << noEnv << noIni << invalid << "database"
        << words({"database:", "\"mysql://b@db/fmb\"", "neither sqlite:PATH nor postgresql://", "try"});
    QTest::newRow("database: relative sqlite path")
        << withChild({"--database", "sqlite:broker.sqlite3"}) << noEnv << noIni << invalid << "database"
        << words({"database:", "absolute path"});
    QTest::newRow("database: no database name")
        << withChild({"--database", "postgresql://b@db.example.org:5432"}) << noEnv << noIni << invalid
        << "database" << words({"database:", "names no database"});
    QTest::newRow("database: no host")
        << withChild({"--database", "postgresql://b@/fmb"}) << noEnv << noIni << invalid << "database"
        << words({"database:", "names no host", "?host=/run/postgresql"});
    QTest::newRow("database: host= not a directory")
        << withChild({"--database", "postgresql://b@/fmb?host=db.example.org"}) << noEnv << noIni << invalid
        << "database" << words({"database:", "socket directory"});
    QTest::newRow("database: unsupported parameter")
        << withChild({"--database", "postgresql://b@db/fmb?sslmode=disable"}) << noEnv << noIni << invalid
        << "database" << words({"database:", "sslmode"});
    QTest::newRow("database: password in the URL")
        << withChild({"--database", "postgresql://b:hunter2@db/fmb"}) << noEnv << noIni << invalid
        << "database" << words({"database:", "holds a password", "--database-password-file"});
    // --node-id (issue 14): it goes into session ids, headers and an nginx regex.
    QTest::newRow("node_id: a space")
        << withChild({"--node-id", "web 1"}) << noEnv << noIni << invalid << "node_id"
        << words({"node_id:", "\"web 1\"", "is not a node id", "try broker-1"});
    QTest::newRow("node_id: a slash") << withChild({"--node-id", "a/b"}) << noEnv << noIni << invalid
                                      << "node_id" << words({"node_id:", "A-Z, a-z, 0-9"});
    QTest::newRow("node_id: not ASCII") << withChild({"--node-id", "kn\u00f6del"}) << noEnv << noIni
                                        << invalid << "node_id" << words({"node_id:", "is not a node id"});
    QTest::newRow("node_id: 33 characters")
        << withChild({"--node-id", QString(33, QLatin1Char('n'))}) << noEnv << noIni << invalid << "node_id"
        << words({"node_id:", "up to 32"});
    QTest::newRow("argument after --") << withChild({"--", "x"}) << noEnv << noIni << invalid
                                       << "command line" << words({"argument 6 is not a flag"});
    QTest::newRow("flag without its value")
        << withChild({"--listen"}) << noEnv << noIni << invalid << "listen"
        << words({"listen: --listen needs a value (HOST:PORT)"});
    QTest::newRow("--help with a value") << withChild({"--help=yes"}) << noEnv << noIni << invalid << "--help"
                                         << words({"--help: takes no value"});

    // admin_socket: a Unix socket address has room for 107 bytes
    const QString longSocket =
        QLatin1String("/tmp/") + QString(110, QLatin1Char('a')) + QLatin1String(".sock");
    QTest::newRow("admin_socket: too long for a Unix socket")
        << withChild({"--admin-socket", longSocket}) << noEnv << noIni << invalid << "admin_socket"
        << words({QString(QLatin1String("admin_socket: \"") + longSocket +
                          QLatin1String(
                              "\" is too long for a Unix socket address (needs 120 bytes, at most 107)")),
                  "; from --admin-socket"});

    QTest::newRow("metrics_listen: no port")
        << withChild({"--metrics-listen", "127.0.0.1"}) << noEnv << noIni << invalid << "metrics_listen"
        << words({"metrics_listen: \"127.0.0.1\" is not HOST:PORT", "; from --metrics-listen"});
    QTest::newRow("metrics_listen: empty")
        << withChild({"--metrics-listen", ""}) << noEnv << noIni << invalid << "metrics_listen"
        << words({"metrics_listen: \"\" is not HOST:PORT"});

    // listen
    QTest::newRow("listen: no port") << withChild({"--listen", "127.0.0.1"}) << noEnv << noIni << invalid
                                     << "listen"
                                     << words({"listen: \"127.0.0.1\" is not HOST:PORT", "; from --listen"});
    QTest::newRow("listen: port out of range")
        << withChild({"--listen", "127.0.0.1:70000"}) << noEnv << noIni << invalid << "listen"
        << words({"port \"70000\" is not a whole number between 0 "
                  "and 65535"});
    QTest::newRow("listen: port not a number") << withChild({"--listen", "127.0.0.1:http"}) << noEnv << noIni
                                               << invalid << "listen" << words({"port \"http\""});
    QTest::newRow("listen: IPv6 without brackets") << withChild({"--listen", "::1:8080"}) << noEnv << noIni
                                                   << invalid << "listen" << words({"needs brackets"});
    QTest::newRow("listen: not IPv6 in brackets")
        << withChild({"--listen", "[zz]:80"}) << noEnv << noIni << invalid << "listen"
        << words({"\"zz\" is not an IPv6 address"});
    QTest::newRow("listen: bad host") << withChild({"--listen", "bad_host!:80"}) << noEnv << noIni << invalid
                                      << "listen" << words({"is not a host name or IPv4 address"});
    QTest::newRow("listen: bad IPv4") << withChild({"--listen", "300.1.1.1:80"}) << noEnv << noIni << invalid
                                      << "listen" << words({"\"300.1.1.1\" is not a host name"});
    QTest::newRow("listen: empty host")
        << withChild({"--listen", ":8080"}) << noEnv << noIni << invalid << "listen" << words({"\":8080\""});
    QTest::newRow("listen: from FMB_LISTEN") << withChild() << words({"FMB_LISTEN=nope"}) << noIni << invalid
                                             << "listen" << words({"\"nope\"", "; from FMB_LISTEN"});

    // auth
    QTest::newRow("auth: unknown mode") << withChild({"--auth", "basic"}) << noEnv << noIni << invalid
                                        << "auth" << words({"auth: \"basic\" is not one of: none, oauth"});
    QTest::newRow("event_loop: unknown dispatcher")
        << withChild({"--event-loop", "glib"}) << noEnv << noIni << invalid << "event_loop"
        << words({"event_loop: \"glib\" is not one of: epoll, qt"});
    QTest::newRow("auth: none on 0.0.0.0")
        << withChild({"--listen", "0.0.0.0:8080"}) << noEnv << noIni << invalid << "auth"
        << words({"auth: \"none\" is refused", "\"0.0.0.0:8080\"", "not a loopback address",
                  "auth from --auth", "listen from --listen"});
    QTest::newRow("auth: none on [::]")
        << withChild({"--auth", "none", "--listen", "[::]:8080"}) << noEnv << noIni << invalid << "auth"
        << words({"\"[::]:8080\"", "auth from --auth"});
    QTest::newRow("auth: none from env on a LAN address")
        << childOnly() << words({"FMB_AUTH=none", "FMB_LISTEN=192.168.1.10:8080"}) << noIni << invalid
        << "auth" << words({"auth from FMB_AUTH", "listen from FMB_LISTEN"});
    QTest::newRow("auth: none from the file on a LAN address")
        << childOnly({"--config", "%FILE%"}) << noEnv << QByteArray("auth = none\nlisten = 10.0.0.1:8080\n")
        << invalid << "auth" << words({"auth from %FILE%", "listen from %FILE%"});

    // auth = oauth: the settings it requires, asked for in this order.
    QTest::newRow("oauth: a bare start needs public_url")
        << childOnly() << noEnv << noIni << invalid << "public_url"
        << words({"auth: \"oauth\" needs public_url (--public-url)", "FMB_PUBLIC_URL", "--auth none",
                  "auth from the default"});
    QTest::newRow("oauth: needs forgejo_url")
        << childOnly({"--public-url", "https://mcp.example.org"}) << noEnv << noIni << invalid
        << "forgejo_url" << words({"auth: \"oauth\" needs forgejo_url (--forgejo-url)", "FMB_FORGEJO_URL"});
    QTest::newRow("oauth: needs forgejo_client_id")
        << childOnly(
               {"--public-url", "https://mcp.example.org", "--forgejo-url", "https://forge.example.org"})
        << noEnv << noIni << invalid << "forgejo_client_id"
        << words({"auth: \"oauth\" needs forgejo_client_id (--forgejo-client-id)", "FMB_FORGEJO_CLIENT_ID"});
    QTest::newRow("oauth: needs forgejo_client_secret_file")
        << childOnly({"--public-url", "https://mcp.example.org", "--forgejo-url", "https://forge.example.org",
                      "--forgejo-client-id", "c"})
        << noEnv << noIni << invalid << "forgejo_client_secret_file"
        << words({"auth: \"oauth\" needs forgejo_client_secret_file (--forgejo-client-secret-file)",
                  "FMB_FORGEJO_CLIENT_SECRET_FILE"});
    QTest::newRow("oauth: an empty value counts as missing")
        << withOAuth({"--forgejo-client-id", ""}) << noEnv << noIni << invalid << "forgejo_client_id"
        << words({"needs forgejo_client_id"});
    QTest::newRow("oauth: from --auth") << withChild({"--auth", "oauth"}) << noEnv << noIni << invalid
                                        << "public_url" << words({"needs public_url", "auth from --auth"});
    QTest::newRow("oauth: from FMB_AUTH")
        << childOnly() << words({"FMB_AUTH=oauth"}) << noIni << invalid << "public_url"
        << words({"needs public_url", "auth from FMB_AUTH"});
    QTest::newRow("oauth: from the file")
        << childOnly({"--config", "%FILE%"}) << noEnv
        << QByteArray("auth = oauth\npublic_url = https://m.example\n") << invalid << "forgejo_url"
        << words({"needs forgejo_url", "auth from %FILE%"});

    // child_command
    QTest::newRow("child_command: missing") << QStringList{} << noEnv << noIni << invalid << "child_command"
                                            << words({"child_command is required"});
    QTest::newRow("child_command: empty flag")
        << words({"--child-command", ""}) << noEnv << noIni << invalid << "child_command"
        << words({"child_command is required", "; from --child-command"});
    QTest::newRow("child_command: blank env counts as unset")
        << QStringList{} << words({"FMB_CHILD_COMMAND=   "}) << noIni << invalid << "child_command"
        << words({"child_command is required"});
    QTest::newRow("child_command: empty in file")
        << words({"--config", "%FILE%"}) << noEnv << QByteArray("child_command =\n") << invalid
        << "child_command" << words({"child_command is required", "; from %FILE%"});

    // child_pass_env, child_sandbox, child_allow_read, child_allow_write
    QTest::newRow("child_pass_env: not a name")
        << withChild({"--child-pass-env", "A-B"}) << noEnv << noIni << invalid << "child_pass_env"
        << words({"child_pass_env: \"A-B\" is not an environment variable name", "; from --child-pass-env"});
    QTest::newRow("child_pass_env: a broker setting")
        << withChild() << words({"FMB_CHILD_PASS_ENV=PATH,FMB_CHILD_ENV"}) << noIni << invalid
        << "child_pass_env"
        << words({"child_pass_env: FMB_CHILD_ENV is one of the broker's own settings",
                  "; from FMB_CHILD_PASS_ENV"});
    QTest::newRow("child_sandbox: not a choice")
        << withChild({"--child-sandbox", "on"}) << noEnv << noIni << invalid << "child_sandbox"
        << words({"child_sandbox: \"on\" is not one of: auto, require, off"});
    QTest::newRow("child_allow_read: relative path")
        << withChild({"--child-allow-read", "node_modules"}) << noEnv << noIni << invalid
        << "child_allow_read" << words({"child_allow_read: \"node_modules\" is not an absolute path"});
    QTest::newRow("child_allow_write: relative path in the file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("child_allow_write = /tmp, cache\n")
        << invalid << "child_allow_write" << words({"child_allow_write: \"cache\" is not an absolute path"});

    // child_env
    QTest::newRow("child_env: no =") << withChild({"--child-env", "TOKEN"}) << noEnv << noIni << invalid
                                     << "child_env"
                                     << words({"child_env: entry 1 has no \"=\"", "; from --child-env"});
    QTest::newRow("child_env: name starts with a digit")
        << withChild({"--child-env", "1X=v"}) << noEnv << noIni << invalid << "child_env"
        << words({"child_env: entry 1 does not start with "
                  "a NAME matching [A-Za-z_][A-Za-z0-9_]*"});
    QTest::newRow("child_env: name with a dash")
        << withChild({"--child-env", "A=1", "--child-env", "MY-VAR=v"}) << noEnv << noIni << invalid
        << "child_env" << words({"entry 2 does not start with a NAME"});
    QTest::newRow("child_env: empty name") << withChild({"--child-env", "=v"}) << noEnv << noIni << invalid
                                           << "child_env" << words({"entry 1 does not start with a NAME"});
    QTest::newRow("child_env: name given twice")
        << withChild({"--child-env", "A=1", "--child-env", "A=2"}) << noEnv << noIni << invalid << "child_env"
        << words({"child_env: A is given more than once"});
    QTest::newRow("child_env: from FMB_CHILD_ENV")
        << withChild() << words({"FMB_CHILD_ENV=A=1\nnope"}) << noIni << invalid << "child_env"
        << words({"entry 2 has no \"=\"", "; from FMB_CHILD_ENV"});
    QTest::newRow("child_env: from the file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("child_env = A=1, 2B=2\n") << invalid
        << "child_env" << words({"entry 2 does not start", "; from %FILE%"});

    // max_sessions
    const auto sessions = [](const char *value) {
        return withChild({"--max-sessions", QString::fromLatin1(value)});
    };
    QTest::newRow("max_sessions: not a number")
        << sessions("abc") << noEnv << noIni << invalid << "max_sessions"
        << words(
               {"max_sessions: \"abc\" is not a whole number between 1 and 100000", "; from --max-sessions"});
    QTest::newRow("max_sessions: zero") << sessions("0") << noEnv << noIni << invalid << "max_sessions"
                                        << words({"\"0\" is not a whole number between 1 and 100000"});
    QTest::newRow("max_sessions: above the limit")
        << sessions("100001") << noEnv << noIni << invalid << "max_sessions" << words({"\"100001\""});
    QTest::newRow("max_sessions: negative")
        << sessions("-5") << noEnv << noIni << invalid << "max_sessions" << words({"\"-5\""});
    QTest::newRow("max_sessions: fraction")
        << sessions("1.5") << noEnv << noIni << invalid << "max_sessions" << words({"\"1.5\""});
    QTest::newRow("max_sessions: empty") << sessions("") << noEnv << noIni << invalid << "max_sessions"
                                         << words({"max_sessions: \"\" is not a whole number"});
    QTest::newRow("max_sessions: huge") << sessions("99999999999999999999") << noEnv << noIni << invalid
                                        << "max_sessions" << words({"\"99999999999999999999\""});
    QTest::newRow("max_sessions: from FMB_MAX_SESSIONS")
        << withChild() << words({"FMB_MAX_SESSIONS=lots"}) << noIni << invalid << "max_sessions"
        << words({"\"lots\"", "; from FMB_MAX_SESSIONS"});
    QTest::newRow("max_sessions: from the file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("max_sessions = many\n") << invalid
        << "max_sessions" << words({"\"many\"", "; from %FILE%"});

    // Per-session caps.
    QTest::newRow("max_batch_messages: zero")
        << withChild({"--max-batch-messages", "0"}) << noEnv << noIni << invalid << "max_batch_messages"
        << words({"max_batch_messages: \"0\" is not a whole number between 1 and 100000",
                  "; from --max-batch-messages"});
    QTest::newRow("max_batch_messages: above the limit")
        << withChild() << words({"FMB_MAX_BATCH_MESSAGES=100001"}) << noIni << invalid << "max_batch_messages"
        << words({"\"100001\"", "; from FMB_MAX_BATCH_MESSAGES"});
    QTest::newRow("max_pending_requests: not a number")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("max_pending_requests = lots\n")
        << invalid << "max_pending_requests"
        << words({"max_pending_requests: \"lots\" is not a whole number between 1 and 100000",
                  "; from %FILE%"});
    QTest::newRow("max_pending_requests: zero")
        << withChild({"--max-pending-requests", "0"}) << noEnv << noIni << invalid << "max_pending_requests"
        << words({"\"0\""});
    QTest::newRow("max_subscriptions_per_session: above the limit")
        << withChild({"--max-subscriptions-per-session", "1000001"}) << noEnv << noIni << invalid
        << "max_subscriptions_per_session"
        << words({"max_subscriptions_per_session: \"1000001\" is not a whole number between 1 and 1000000"});
    QTest::newRow("max_subscriptions_per_session: negative")
        << withChild({"--max-subscriptions-per-session", "-1"}) << noEnv << noIni << invalid
        << "max_subscriptions_per_session" << words({"\"-1\"", "; from --max-subscriptions-per-session"});
    QTest::newRow("max_connections: zero")
        << withChild({"--max-connections", "0"}) << noEnv << noIni << invalid << "max_connections"
        << words({"max_connections: \"0\" is not \"auto\" or a whole number "
                  "between 1 and 1000000"});
    QTest::newRow("max_connections: huge") << withChild({"--max-connections", "1000001"}) << noEnv << noIni
                                           << invalid << "max_connections" << words({"\"1000001\""});
    QTest::newRow("max_connections_per_address: auto is not a number")
        << withChild({"--max-connections-per-address", "auto"}) << noEnv << noIni << invalid
        << "max_connections_per_address"
        << words({"max_connections_per_address: \"auto\" is not a whole number between 0 and 1000000"});
    QTest::newRow("request_timeout: zero")
        << withChild({"--request-timeout", "0"}) << noEnv << noIni << invalid << "request_timeout"
        << words({"\"0\" is not more than 0"});
    QTest::newRow("keepalive_timeout: not a duration")
        << withChild({"--keepalive-timeout", "soon"}) << noEnv << noIni << invalid << "keepalive_timeout"
        << words({"keepalive_timeout: \"soon\" is not a duration (try 90s or 2m)"});

    // Durations.
    QTest::newRow("idle_timeout: unknown unit")
        << withChild({"--idle-timeout", "15x"}) << noEnv << noIni << invalid << "idle_timeout"
        << words({"idle_timeout: \"15x\" is not a duration (try 900s or 15m)", "; from --idle-timeout"});
    QTest::newRow("idle_timeout: zero") << withChild({"--idle-timeout", "0"}) << noEnv << noIni << invalid
                                        << "idle_timeout" << words({"\"0\" is not more than 0"});
    QTest::newRow("idle_timeout: 0ms") << withChild({"--idle-timeout", "0ms"}) << noEnv << noIni << invalid
                                       << "idle_timeout" << words({"\"0ms\" is not more than 0"});
    QTest::newRow("idle_timeout: negative")
        << withChild({"--idle-timeout", "-5s"}) << noEnv << noIni << invalid << "idle_timeout"
        << words({"\"-5s\" is not a duration"});
    QTest::newRow("idle_timeout: fraction")
        << withChild({"--idle-timeout", "1.5m"}) << noEnv << noIni << invalid << "idle_timeout"
        << words({"\"1.5m\" is not a duration"});
    QTest::newRow("idle_timeout: upper-case unit")
        << withChild({"--idle-timeout", "15M"}) << noEnv << noIni << invalid << "idle_timeout"
        << words({"\"15M\" is not a duration"});
    QTest::newRow("idle_timeout: too long")
        << withChild({"--idle-timeout", "99999h"}) << noEnv << noIni << invalid << "idle_timeout"
        << words({"\"99999h\" is more than the limit of 720h"});
    QTest::newRow("idle_timeout: from FMB_IDLE_TIMEOUT")
        << withChild() << words({"FMB_IDLE_TIMEOUT=soon"}) << noIni << invalid << "idle_timeout"
        << words({"\"soon\" is not a duration", "; from FMB_IDLE_TIMEOUT"});
    QTest::newRow("reap_interval: not a duration")
        << withChild({"--reap-interval", "often"}) << noEnv << noIni << invalid << "reap_interval"
        << words({"reap_interval: \"often\" is not a duration", "; from --reap-interval"});
    QTest::newRow("reap_interval: too long")
        << withChild({"--reap-interval", "25h"}) << noEnv << noIni << invalid << "reap_interval"
        << words({"is more than the limit of 24h"});
    QTest::newRow("child_stop_grace: not a duration")
        << withChild({"--child-stop-grace", "fast"}) << noEnv << noIni << invalid << "child_stop_grace"
        << words({"child_stop_grace: \"fast\" is not a "
                  "duration (try 3s or 500ms)"});
    QTest::newRow("child_stop_grace: zero") << withChild({"--child-stop-grace", "0ms"}) << noEnv << noIni
                                            << invalid << "child_stop_grace" << words({"is not more than 0"});

    // allowed_origins
    const auto origin = [](const char *value) {
        return withChild({"--allowed-origin", QString::fromLatin1(value)});
    };
    QTest::newRow("allowed_origins: path")
        << origin("https://a.example/app") << noEnv << noIni << invalid << "allowed_origins"
        << words({"allowed_origins: \"https://a.example/app\" has a path", "; from --allowed-origin"});
    QTest::newRow("allowed_origins: trailing slash") << origin("https://a.example/") << noEnv << noIni
                                                     << invalid << "allowed_origins" << words({"has a path"});
    QTest::newRow("allowed_origins: ftp")
        << origin("ftp://a.example") << noEnv << noIni << invalid << "allowed_origins"
        << words({"is not an http:// or https:// URL"});
    QTest::newRow("allowed_origins: no scheme") << origin("a.example") << noEnv << noIni << invalid
                                                << "allowed_origins" << words({"\"a.example\" is not an"});
    QTest::newRow("allowed_origins: wildcard")
        << origin("*") << noEnv << noIni << invalid << "allowed_origins" << words({"\"*\" is not an"});
    QTest::newRow("allowed_origins: query") << origin("https://a.example?x=1") << noEnv << noIni << invalid
                                            << "allowed_origins" << words({"must not have a query"});
    QTest::newRow("allowed_origins: empty")
        << origin("") << noEnv << noIni << invalid << "allowed_origins" << words({"\"\" is not an"});
    QTest::newRow("allowed_origins: from FMB_ALLOWED_ORIGINS")
        << withChild() << words({"FMB_ALLOWED_ORIGINS=https://a.example,https://b.example/x"}) << noIni
        << invalid << "allowed_origins"
        << words({"\"https://b.example/x\" has a path", "; from FMB_ALLOWED_ORIGINS"});

    // Sizes.
    QTest::newRow("max_body_bytes: decimal unit")
        << withChild({"--max-body-bytes", "4MB"}) << noEnv << noIni << invalid << "max_body_bytes"
        << words({"max_body_bytes: \"4MB\" is not a size in bytes "
                  "(try 4194304 or 4MiB)"});
    QTest::newRow("max_body_bytes: zero")
        << withChild({"--max-body-bytes", "0"}) << noEnv << noIni << invalid << "max_body_bytes"
        << words({"\"0\" is not between 1 byte and 1GiB"});
    QTest::newRow("max_body_bytes: above 1GiB")
        << withChild({"--max-body-bytes", "2GiB"}) << noEnv << noIni << invalid << "max_body_bytes"
        << words({"\"2GiB\" is not between 1 byte and 1GiB"});
    QTest::newRow("max_body_bytes: words")
        << withChild({"--max-body-bytes", "lots"}) << noEnv << noIni << invalid << "max_body_bytes"
        << words({"\"lots\" is not a size", "; from --max-body-bytes"});
    QTest::newRow("child_max_line_bytes: negative")
        << withChild({"--child-max-line-bytes", "-1"}) << noEnv << noIni << invalid << "child_max_line_bytes"
        << words({"child_max_line_bytes: \"-1\" is not a size"});

    // public_url
    QTest::newRow("public_url: ftp")
        << withChild({"--public-url", "ftp://x.example"}) << noEnv << noIni << invalid << "public_url"
        << words({"public_url: \"ftp://x.example\" is not an http:// or https://", "; from --public-url"});
    QTest::newRow("public_url: query")
        << withChild({"--public-url", "https://x.example/?a=1"}) << noEnv << noIni << invalid << "public_url"
        << words({"must not have a query"});
    QTest::newRow("public_url: fragment")
        << withChild({"--public-url", "https://x.example/#top"}) << noEnv << noIni << invalid << "public_url"
        << words({"must not have a query (?) or fragment (#)"});
    QTest::newRow("public_url: not a URL") << withChild({"--public-url", "x.example"}) << noEnv << noIni
                                           << invalid << "public_url" << words({"\"x.example\" is not an"});
    QTest::newRow("public_url: user info")
        << withChild({"--public-url", "https://me@x.example"}) << noEnv << noIni << invalid << "public_url"
        << words({"\"https://***@x.example\" must not contain a user name "
                  "or password"});
    QTest::newRow("allowed_origins: password is not shown")
        << withChild({"--allowed-origin", "http://me:pw@x.example:8080"}) << noEnv << noIni << invalid
        << "allowed_origins" << words({"\"http://***@x.example:8080\""});

    // forgejo_url and the upstream URLs
    QTest::newRow("forgejo_url: ftp")
        << withChild({"--forgejo-url", "ftp://forge.example.org"}) << noEnv << noIni << invalid
        << "forgejo_url"
        << words({"forgejo_url: \"ftp://forge.example.org\" is not an http:// or https:// URL",
                  "(try https://forge.example.org)", "; from --forgejo-url"});
    QTest::newRow("forgejo_url: query")
        << withChild({"--forgejo-url", "https://forge.example.org/?x=1"}) << noEnv << noIni << invalid
        << "forgejo_url" << words({"must not have a query"});
    QTest::newRow("forgejo_url: fragment")
        << withChild({"--forgejo-url", "https://forge.example.org#top"}) << noEnv << noIni << invalid
        << "forgejo_url" << words({"or fragment (#)"});
    QTest::newRow("forgejo_url: no scheme")
        << withChild({"--forgejo-url", "forge.example.org"}) << noEnv << noIni << invalid << "forgejo_url"
        << words({"\"forge.example.org\" is not an"});
    QTest::newRow("forgejo_url: user info")
        << withChild({"--forgejo-url", "https://me:pw@forge.example.org"}) << noEnv << noIni << invalid
        << "forgejo_url" << words({"\"https://***@forge.example.org\" must not contain a user name"});
    QTest::newRow("forgejo_url: from FMB_FORGEJO_URL")
        << withChild() << words({"FMB_FORGEJO_URL=forge"}) << noIni << invalid << "forgejo_url"
        << words({"\"forge\"", "; from FMB_FORGEJO_URL"});
    QTest::newRow("forgejo_url: from the file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("forgejo_url = gopher://x.example\n")
        << invalid << "forgejo_url" << words({"\"gopher://x.example\"", "; from %FILE%"});
    QTest::newRow("upstream_authorize_url: query")
        << withChild({"--upstream-authorize-url", "https://sso.example.org/authorize?tenant=1"}) << noEnv
        << noIni << invalid << "upstream_authorize_url"
        << words({"upstream_authorize_url: \"https://sso.example.org/authorize?tenant=1\" must not have a "
                  "query",
                  "; from --upstream-authorize-url"});
    QTest::newRow("upstream_token_url: file URL")
        << withChild({"--upstream-token-url", "file:///etc/passwd"}) << noEnv << noIni << invalid
        << "upstream_token_url" << words({"upstream_token_url: \"file:///etc/passwd\" is not an http://"});
    QTest::newRow("upstream_user_url: no scheme")
        << withChild() << words({"FMB_UPSTREAM_USER_URL=forge.example.org/api/v1/user"}) << noIni << invalid
        << "upstream_user_url"
        << words({"upstream_user_url: \"forge.example.org/api/v1/user\" is not an",
                  "; from FMB_UPSTREAM_USER_URL"});
    QTest::newRow("upstream URL is checked in oauth mode too")
        << withOAuth({"--upstream-token-url", "https://sso.example.org/token#x"}) << noEnv << noIni << invalid
        << "upstream_token_url" << words({"or fragment (#)"});

    // forgejo_client_id
    QTest::newRow("forgejo_client_id: control character")
        << withChild({"--forgejo-client-id", "ab\tcd"}) << noEnv << noIni << invalid << "forgejo_client_id"
        << words({"forgejo_client_id: has a character that is not printable ASCII",
                  "; from --forgejo-client-id"});
    QTest::newRow("forgejo_client_id: non-ASCII")
        << withChild({"--forgejo-client-id", "cli\u00e9nt"}) << noEnv << noIni << invalid
        << "forgejo_client_id" << words({"not printable ASCII"});

    // token_env
    QTest::newRow("token_env: starts with a digit")
        << withChild({"--token-env", "1TOKEN"}) << noEnv << noIni << invalid << "token_env"
        << words({"token_env: \"1TOKEN\" is not an environment variable name matching [A-Za-z_][A-Za-z0-9_]*",
                  "; from --token-env"});
    QTest::newRow("token_env: dash") << withChild({"--token-env", "MY-TOKEN"}) << noEnv << noIni << invalid
                                     << "token_env" << words({"\"MY-TOKEN\" is not an environment variable"});
    QTest::newRow("token_env: space inside") << withChild({"--token-env", "MY TOKEN"}) << noEnv << noIni
                                             << invalid << "token_env" << words({"\"MY TOKEN\""});
    QTest::newRow("token_env: empty") << withChild({"--token-env", ""}) << noEnv << noIni << invalid
                                      << "token_env" << words({"token_env: \"\" is not"});
    QTest::newRow("token_env: NAME=VALUE")
        << withChild() << words({"FMB_TOKEN_ENV=TOKEN=x"}) << noIni << invalid << "token_env"
        << words({"\"TOKEN=x\"", "; from FMB_TOKEN_ENV"});

    // The /oauth/register limits
    QTest::newRow("register_rate: negative")
        << withChild({"--register-rate", "-5"}) << noEnv << noIni << invalid << "register_rate"
        << words({"register_rate: \"-5\" is not a whole number between 0 and 100000",
                  "; from --register-rate"});
    QTest::newRow("max_pending_clients: not a number")
        << withChild() << words({"FMB_MAX_PENDING_CLIENTS=lots"}) << noIni << invalid << "max_pending_clients"
        << words({"\"lots\" is not a whole number between 0 and 1000000", "; from FMB_MAX_PENDING_CLIENTS"});
    QTest::newRow("pending_client_ttl: zero")
        << withChild({"--pending-client-ttl", "0s"}) << noEnv << noIni << invalid << "pending_client_ttl"
        << words({"pending_client_ttl: \"0s\" is not more than 0"});
    QTest::newRow("max_registration_bytes: over 64KiB")
        << withChild({"--max-registration-bytes", "1MiB"}) << noEnv << noIni << invalid
        << "max_registration_bytes" << words({"\"1MiB\" is more than the limit of 64KiB"});

    // max_sessions_per_user
    QTest::newRow("max_sessions_per_user: negative")
        << withChild({"--max-sessions-per-user", "-1"}) << noEnv << noIni << invalid
        << "max_sessions_per_user"
        << words({"max_sessions_per_user: \"-1\" is not a whole number between 0 and 100000",
                  "; from --max-sessions-per-user"});
    QTest::newRow("max_sessions_per_user: above the limit")
        << withChild({"--max-sessions-per-user", "100001"}) << noEnv << noIni << invalid
        << "max_sessions_per_user" << words({"\"100001\" is not a whole number between 0 and 100000"});
    QTest::newRow("max_sessions_per_user: not a number")
        << withChild() << words({"FMB_MAX_SESSIONS_PER_USER=many"}) << noIni << invalid
        << "max_sessions_per_user" << words({"\"many\"", "; from FMB_MAX_SESSIONS_PER_USER"});
    QTest::newRow("max_sessions_per_user: from the file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("max_sessions_per_user = 2.5\n")
        << invalid << "max_sessions_per_user" << words({"\"2.5\"", "; from %FILE%"});

    // The OAuth durations.
    QTest::newRow("rotate_interval: not a duration")
        << withChild({"--rotate-interval", "often"}) << noEnv << noIni << invalid << "rotate_interval"
        << words(
               {"rotate_interval: \"often\" is not a duration (try 60s or 1m)", "; from --rotate-interval"});
    QTest::newRow("rotate_interval: zero")
        << withChild({"--rotate-interval", "0"}) << noEnv << noIni << invalid << "rotate_interval"
        << words({"\"0\" is not more than 0"});
    QTest::newRow("rotate_interval: too long")
        << withChild({"--rotate-interval", "25h"}) << noEnv << noIni << invalid << "rotate_interval"
        << words({"\"25h\" is more than the limit of 24h"});
    QTest::newRow("refresh_lead: not a duration")
        << withChild() << words({"FMB_REFRESH_LEAD=early"}) << noIni << invalid << "refresh_lead"
        << words({"refresh_lead: \"early\" is not a duration (try 300s or 5m)", "; from FMB_REFRESH_LEAD"});
    QTest::newRow("refresh_lead: zero") << withChild({"--refresh-lead", "0s"}) << noEnv << noIni << invalid
                                        << "refresh_lead" << words({"is not more than 0"});
    QTest::newRow("refresh_lead: too long")
        << withChild({"--refresh-lead", "1441m"}) << noEnv << noIni << invalid << "refresh_lead"
        << words({"\"1441m\" is more than the limit of 24h"});
    QTest::newRow("access_token_ttl: more than 24h")
        << withChild({"--access-token-ttl", "25h"}) << noEnv << noIni << invalid << "access_token_ttl"
        << words({"access_token_ttl: \"25h\" is more than the limit of 24h", "; from --access-token-ttl"});
    QTest::newRow("access_token_ttl: not a duration")
        << withChild({"--access-token-ttl", "1 h"}) << noEnv << noIni << invalid << "access_token_ttl"
        << words({"\"1 h\" is not a duration (try 3600s or 1h)"});
    QTest::newRow("refresh_token_ttl: no day unit")
        << withChild({"--refresh-token-ttl", "30d"}) << noEnv << noIni << invalid << "refresh_token_ttl"
        << words({"refresh_token_ttl: \"30d\" is not a duration (try 720h for 30 days)",
                  "; from --refresh-token-ttl"});
    QTest::newRow("refresh_token_ttl: more than a year")
        << withChild({"--refresh-token-ttl", "8761h"}) << noEnv << noIni << invalid << "refresh_token_ttl"
        << words({"\"8761h\" is more than the limit of 8760h"});
    QTest::newRow("refresh_token_ttl: from the file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("refresh_token_ttl = 0\n") << invalid
        << "refresh_token_ttl" << words({"\"0\" is not more than 0", "; from %FILE%"});

    // metadata_allow_private_hosts (a switch)
    QTest::newRow("metadata_allow_private_hosts: yes")
        << withChild({"--metadata-allow-private-hosts=yes"}) << noEnv << noIni << invalid
        << "metadata_allow_private_hosts"
        << words({"metadata_allow_private_hosts: \"yes\" is not one of: true, false, 1, 0",
                  "; from --metadata-allow-private-hosts"});
    QTest::newRow("metadata_allow_private_hosts: empty =")
        << withChild({"--metadata-allow-private-hosts="}) << noEnv << noIni << invalid
        << "metadata_allow_private_hosts" << words({"\"\" is not one of"});
    QTest::newRow("metadata_allow_private_hosts: upper case")
        << withChild({"--metadata-allow-private-hosts=TRUE"}) << noEnv << noIni << invalid
        << "metadata_allow_private_hosts" << words({"\"TRUE\" is not one of"});
    QTest::newRow("metadata_allow_private_hosts: a separate value is a stray word")
        << withChild({"--metadata-allow-private-hosts", "true"}) << noEnv << noIni << invalid
        << "command line" << words({"argument 6 is not a flag"});
    QTest::newRow("metadata_allow_private_hosts: from FMB_METADATA_ALLOW_PRIVATE_HOSTS")
        << withChild() << words({"FMB_METADATA_ALLOW_PRIVATE_HOSTS=on"}) << noIni << invalid
        << "metadata_allow_private_hosts" << words({"\"on\"", "; from FMB_METADATA_ALLOW_PRIVATE_HOSTS"});
    QTest::newRow("metadata_allow_private_hosts: from the file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("metadata_allow_private_hosts = maybe\n")
        << invalid << "metadata_allow_private_hosts" << words({"\"maybe\"", "; from %FILE%"});

    // The file.
    QTest::newRow("config: missing file")
        << withChild({"--config", "/nonexistent/broker.ini"}) << noEnv << noIni << ErrorCode::NotFound
        << "config" << words({"\"/nonexistent/broker.ini\"", "no such file", "; from --config"});
    QTest::newRow("config: missing file from FMB_CONFIG")
        << withChild() << words({"FMB_CONFIG=/nonexistent/broker.ini"}) << noIni << ErrorCode::NotFound
        << "config" << words({"\"/nonexistent/broker.ini\"", "; from FMB_CONFIG"});
    QTest::newRow("config: a directory")
        << withChild({"--config", "%DIR%"}) << noEnv << noIni << ErrorCode::Io << "config"
        << words({"\"%DIR%\"", "not a regular file"});
    QTest::newRow("config: unknown key")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("lisen = 127.0.0.1:1\n") << invalid
        << "lisen" << words({"lisen: unknown key in %FILE%"});
    QTest::newRow("config: key case matters")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("Listen = 127.0.0.1:1\n") << invalid
        << "Listen" << words({"Listen: unknown key in %FILE%"});
    QTest::newRow("config: key in a section")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("[network]\nlisten = 127.0.0.1:1\n")
        << invalid << "network/listen"
        << words({"network/listen: unknown key in %FILE%", "write listen= at the top of the file"});
    QTest::newRow("log_rules: no value")
        << withChild({"--log-rules", "fmb.http.debug"}) << noEnv << noIni << invalid << "log_rules"
        << words({"log_rules: \"fmb.http.debug\" is not a logging rule CATEGORY[.LEVEL]=true|false",
                  "; from --log-rules"});
    QTest::newRow("log_rules: not a boolean")
        << withChild({"--log-rules", "fmb.http.debug=yes"}) << noEnv << noIni << invalid << "log_rules"
        << words({"\"fmb.http.debug=yes\" is not a logging rule"});
    QTest::newRow("check_config: not a key of the file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("check_config = true\n") << invalid
        << "check_config" << words({"check_config: unknown key in %FILE%", "only by --check-config"});
    QTest::newRow("check_config: not a switch word")
        << withChild({"--check-config=yes"}) << noEnv << noIni << invalid << "check_config"
        << words({"check_config: \"yes\" is not one of: true, false, 1, 0; from --check-config"});
    QTest::newRow("config: file names another file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("config = /etc/other.ini\n") << invalid
        << "config" << words({"config: unknown key in %FILE%", "only by --config or FMB_CONFIG"});
    QTest::newRow("config: unknown key even when a flag sets the rest")
        << withChild({"--config", "%FILE%", "--max-sessions", "3"}) << noEnv
        << QByteArray("max_sessions = 2\nmax_session = 2\n") << invalid << "max_session"
        << words({"max_session: unknown key"});
}

void tst_ConfigLoader::rejected()
{
    QFETCH(QStringList, args);
    QFETCH(QStringList, env);
    QFETCH(QByteArray, ini);
    QFETCH(fmb::ErrorCode, code);
    QFETCH(QString, subject);
    QFETCH(QStringList, messageParts);

    const Result<ConfigRequest> request = load(args, env, ini);
    QVERIFY2(!request.ok(), "loaded although the input is bad");
    const Error &error = request.error();
    QCOMPARE(static_cast<int>(error.code), static_cast<int>(code));
    QCOMPARE(error.subject, substitute(subject));
    for (const QString &part : messageParts)
        QVERIFY2(error.message.contains(substitute(part)),
                 qPrintable(QLatin1String("message: ") + error.message + QLatin1String("\nlacks: ") +
                            substitute(part)));

    const Result<BrokerConfig> config =
        loadConfig(QStringList{QStringLiteral("brokerd")} + substitute(args), {});
    if (env.isEmpty() && ini.isEmpty()) {
        QVERIFY(!config.ok());
        QCOMPARE(config.error().subject, error.subject);
    }
}

void tst_ConfigLoader::authNone_data()
{
    QTest::addColumn<QString>("listen");
    QTest::addColumn<bool>("accepted");

    QTest::newRow("127.0.0.1") << "127.0.0.1:8080" << true;
    QTest::newRow("elsewhere in 127.0.0.0/8") << "127.8.9.10:8080" << true;
    QTest::newRow("::1") << "[::1]:8080" << true;
    QTest::newRow("IPv4-mapped loopback") << "[::ffff:127.0.0.1]:8080" << true;
    QTest::newRow("localhost") << "localhost:8080" << true;
    QTest::newRow("LOCALHOST") << "LOCALHOST:8080" << true;
    QTest::newRow("0.0.0.0 refused") << "0.0.0.0:8080" << false;
    QTest::newRow(":: refused") << "[::]:8080" << false;
    QTest::newRow("LAN address refused") << "192.168.1.10:8080" << false;
    QTest::newRow("host name refused") << "mcp.example.org:8080" << false;
    QTest::newRow("localhost lookalike refused") << "localhost.example.org:8080" << false;
}

void tst_ConfigLoader::authNone()
{
    QFETCH(QString, listen);
    QFETCH(bool, accepted);

    const Result<ConfigRequest> none = load(withChild({"--auth", "none", "--listen", listen}), {}, {});
    QCOMPARE(none.ok(), accepted);
    if (!accepted) {
        QCOMPARE(none.error().subject, QStringLiteral("auth"));
        QVERIFY2(none.error().message.contains(listen), qPrintable(none.error().message));
    }
    // oauth passes the loader anywhere; the daemon decides whether it can serve it.
    const Result<ConfigRequest> oauth = load(withOAuth({"--auth", "oauth", "--listen", listen}), {}, {});
    QVERIFY2(oauth.ok(), qPrintable(oauth.ok() ? QString() : oauth.error().message));
}

void tst_ConfigLoader::stateDirDefault_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QStringList>("env");
    QTest::addColumn<QString>("expected"); // %DEFAULT%: the default for this user

    QTest::newRow("oauth, not set: the default") << withOAuth() << QStringList{} << "%DEFAULT%";
    QTest::newRow("oauth, empty flag: the default")
        << withOAuth({"--state-dir", ""}) << QStringList{} << "%DEFAULT%";
    QTest::newRow("oauth, --state-dir")
        << withOAuth({"--state-dir", "/srv/fmb"}) << QStringList{} << "/srv/fmb";
    QTest::newRow("oauth, FMB_STATE_DIR") << withOAuth() << words({"FMB_STATE_DIR=/srv/env"}) << "/srv/env";
    QTest::newRow("local mode: left empty") << withChild() << QStringList{} << "";
}

void tst_ConfigLoader::stateDirDefault()
{
    QFETCH(QStringList, args);
    QFETCH(QStringList, env);
    QFETCH(QString, expected);

    // QStandardPaths reads the process environment, not the one load() passes.
    const QByteArray savedDataHome = qgetenv("XDG_DATA_HOME");
    const bool hadDataHome = qEnvironmentVariableIsSet("XDG_DATA_HOME");
    const auto restore = qScopeGuard([&] {
        if (hadDataHome)
            qputenv("XDG_DATA_HOME", savedDataHome);
        else
            qunsetenv("XDG_DATA_HOME");
    });
    const QString dataHome = m_dir.filePath(QStringLiteral("data"));
    qputenv("XDG_DATA_HOME", dataHome.toUtf8());
    const QString defaultDir = ::geteuid() == 0 ? QStringLiteral("/var/lib/forgejo-mcp-broker")
                                                : dataHome + QLatin1String("/forgejo-mcp-broker");

    const Result<ConfigRequest> request = load(args, env, {});
    QVERIFY2(request.ok(), qPrintable(request.ok() ? QString() : request.error().message));
    QCOMPARE(request.value().config.stateDir,
             QString(expected).replace(QLatin1String("%DEFAULT%"), defaultDir));
}

void tst_ConfigLoader::secretsNeverShown_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QStringList>("env");
    QTest::addColumn<QByteArray>("ini");

    const QStringList noEnv;
    const QByteArray noIni;
    const QString assignment = QLatin1String("TOKEN=") + Secret;

    QTest::newRow("entry without =") << withChild({"--child-env", Secret}) << noEnv << noIni;
    QTest::newRow("secret before = is not a name")
        << withChild({"--child-env", QString(Secret + QLatin1String("=x"))}) << noEnv << noIni;
    QTest::newRow("name given twice")
        << withChild({"--child-env", assignment, "--child-env", assignment}) << noEnv << noIni;
    QTest::newRow("another bad value")
        << withChild({"--child-env", assignment, "--max-sessions", "x"}) << noEnv << noIni;
    QTest::newRow("auth refusal") << withChild({"--child-env", assignment, "--listen", "0.0.0.0:1"}) << noEnv
                                  << noIni;
    QTest::newRow("stray word after NAME=") << withChild({"--child-env", "TOKEN=", Secret}) << noEnv << noIni;
    QTest::newRow("misspelt flag with =value")
        << withChild({QString(QLatin1String("--child-envv=") + assignment)}) << noEnv << noIni;
    QTest::newRow("FMB_CHILD_ENV entry without =")
        << withChild() << words({QString(QLatin1String("FMB_CHILD_ENV=") + Secret)}) << noIni;
    QTest::newRow("FMB_CHILD_ENV with a bad neighbour")
        << withChild()
        << words({QString(QLatin1String("FMB_CHILD_ENV=") + assignment + QLatin1String("\n1BAD=") + Secret)})
        << noIni;
    QTest::newRow("INI child_env entry without =")
        << withChild({"--config", "%FILE%"}) << noEnv
        << QString(QLatin1String("child_env = \"") + Secret + QLatin1String("\"\n")).toUtf8();
    QTest::newRow("token in the child command, bad value elsewhere")
        << words(
               {"--child-command", QString(QLatin1String("server --token ") + Secret), "--max-sessions", "0"})
        << noEnv << noIni;
    QTest::newRow("password in public_url")
        << withChild(
               {"--public-url", QString(QLatin1String("https://me:") + Secret + QLatin1String("@x.example"))})
        << noEnv << noIni;
    QTest::newRow("password in the database URL")
        << withChild({"--database", QString(QLatin1String("postgresql://broker:") + Secret +
                                            QLatin1String("@db.example.org/fmb"))})
        << noEnv << noIni;
    QTest::newRow("password in forgejo_url")
        << withChild({"--forgejo-url",
                      QString(QLatin1String("https://me:") + Secret + QLatin1String("@forge.example.org"))})
        << noEnv << noIni;
    QTest::newRow("password in an upstream URL")
        << withChild({"--upstream-token-url", QString(QLatin1String("https://me:") + Secret +
                                                      QLatin1String("@sso.example.org/token"))})
        << noEnv << noIni;
    QTest::newRow("password in an origin")
        << withChild({"--allowed-origin",
                      QString(QLatin1String("https://me:") + Secret + QLatin1String("@x.example"))})
        << noEnv << noIni;
}

void tst_ConfigLoader::secretsNeverShown()
{
    QFETCH(QStringList, args);
    QFETCH(QStringList, env);
    QFETCH(QByteArray, ini);

    const Result<ConfigRequest> request = load(args, env, ini);
    QVERIFY2(!request.ok(), "loaded although the input is bad");
    // The secret starts with a name-like prefix; not even that may show.
    const QString prefix = Secret.left(6);
    QVERIFY2(!request.error().message.contains(prefix), qPrintable(request.error().message));
    QVERIFY2(!request.error().subject.contains(prefix), qPrintable(request.error().subject));
}

void tst_ConfigLoader::requests_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<bool>("help");
    QTest::addColumn<bool>("version");

    QTest::newRow("--help") << words({"--help"}) << true << false;
    QTest::newRow("-h") << words({"-h"}) << true << false;
    QTest::newRow("--version") << words({"--version"}) << false << true;
    QTest::newRow("--help and --version") << words({"--version", "--help"}) << true << true;
    QTest::newRow("--help beats a bad value") << words({"--max-sessions", "x", "--help"}) << true << false;
    QTest::newRow("--help beats an unknown flag") << words({"--bogus", "--help"}) << true << false;
    QTest::newRow("--help beats a missing file")
        << words({"--config", "/nonexistent", "--help"}) << true << false;
    QTest::newRow("--version needs no child command") << words({"--version"}) << false << true;
    QTest::newRow("neither") << withChild() << false << false;
}

void tst_ConfigLoader::requests()
{
    QFETCH(QStringList, args);
    QFETCH(bool, help);
    QFETCH(bool, version);

    const Result<ConfigRequest> request = load(args, {}, {});
    QVERIFY2(request.ok(), qPrintable(request.ok() ? QString() : request.error().message));
    QCOMPARE(request.value().help, help);
    QCOMPARE(request.value().version, version);
}

void tst_ConfigLoader::loadConfigRefusesHelpAndVersion()
{
    const QString program = QStringLiteral("brokerd");
    const Result<BrokerConfig> help = loadConfig({program, QStringLiteral("--help")}, {});
    QVERIFY(!help.ok());
    QCOMPARE(help.error().subject, QStringLiteral("help"));
    const Result<BrokerConfig> version = loadConfig({program, QStringLiteral("--version")}, {});
    QVERIFY(!version.ok());
    QCOMPARE(version.error().subject, QStringLiteral("version"));
    const Result<BrokerConfig> plain = loadConfig(QStringList{program} + withChild(), {});
    QVERIFY(plain.ok());
    QCOMPARE(plain.value().childProgram, QStringLiteral("mcp-server"));
}

void tst_ConfigLoader::unreadableConfigFile()
{
    const QString path = m_dir.filePath(QStringLiteral("unreadable.ini"));
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("max_sessions = 3\n");
    file.close();
    QVERIFY(file.setPermissions(QFileDevice::WriteOwner));
    if (file.open(QIODevice::ReadOnly))
        QSKIP("the file is still readable (running as root?)");

    const Result<ConfigRequest> request = load(withChild({"--config", path}), {}, {});
    QVERIFY(!request.ok());
    QCOMPARE(static_cast<int>(request.error().code), static_cast<int>(ErrorCode::Io));
    QCOMPARE(request.error().subject, QStringLiteral("config"));
    QVERIFY2(request.error().message.contains(path), qPrintable(request.error().message));
}

void tst_ConfigLoader::helpText_data()
{
    QTest::addColumn<QString>("mention");

    for (const ConfigSetting &setting : configSettings()) {
        QTest::addRow("flag --%s", qPrintable(setting.flag)) << QString(QLatin1String("--") + setting.flag);
        QTest::addRow("variable %s", qPrintable(setting.envVar)) << setting.envVar;
        if (setting.inFile)
            QTest::addRow("INI key %s", qPrintable(setting.key))
                << QString(QLatin1String("INI key ") + setting.key);
    }
    QTest::newRow("--help") << "--help";
    QTest::newRow("--version") << "--version";
    QTest::newRow("default listen") << "default 127.0.0.1:8080";
    QTest::newRow("default idle timeout") << "default 15m";
    QTest::newRow("default body limit") << "default 4MiB";
    QTest::newRow("default request timeout") << "env FMB_REQUEST_TIMEOUT; default 30s\n";
    QTest::newRow("default keep-alive timeout") << "env FMB_KEEPALIVE_TIMEOUT; default 90s\n";
    QTest::newRow("default connection cap") << "env FMB_MAX_CONNECTIONS; default auto\n";
    QTest::newRow("default per-address cap") << "env FMB_MAX_CONNECTIONS_PER_ADDRESS; default 256\n";
    QTest::newRow("default child stop grace") << "default 3s";
    QTest::newRow("default auth") << "env FMB_AUTH; default oauth\n";
    QTest::newRow("oauth needs") << "needs public_url,\n";
    QTest::newRow("default state dir") << "default /var/lib/forgejo-mcp-broker when running as root";
    QTest::newRow("default state dir, not root") << "$XDG_DATA_HOME/forgejo-mcp-broker (~/.local/share/...)";
    QTest::newRow("default authorize URL") << "default <forgejo_url>/login/oauth/authorize\n";
    QTest::newRow("default token URL") << "default <forgejo_url>/login/oauth/access_token\n";
    QTest::newRow("default user URL") << "default <forgejo_url>/api/v1/user\n";
    QTest::newRow("default token variable") << "default FORGEJO_ACCESS_TOKEN\n";
    QTest::newRow("default per-user cap") << "env FMB_MAX_SESSIONS_PER_USER; default 20\n";
    QTest::newRow("default batch cap") << "env FMB_MAX_BATCH_MESSAGES; default 1000\n";
    QTest::newRow("default pending cap") << "env FMB_MAX_PENDING_REQUESTS; default 1000\n";
    QTest::newRow("default subscription cap") << "env FMB_MAX_SUBSCRIPTIONS_PER_SESSION; default 1000\n";
    QTest::newRow("default rotate interval") << "env FMB_ROTATE_INTERVAL; default 1m\n";
    QTest::newRow("default refresh lead") << "env FMB_REFRESH_LEAD; default 5m\n";
    QTest::newRow("default access token ttl") << "env FMB_ACCESS_TOKEN_TTL; default 1h\n";
    QTest::newRow("default refresh token ttl") << "env FMB_REFRESH_TOKEN_TTL; default 720h\n";
    QTest::newRow("a switch shows no value name") << "  --metadata-allow-private-hosts\n";
    QTest::newRow("no day unit") << "30 days is 720h";
    QTest::newRow("duration forms") << "500ms, 900s, 15m, 1h";
    QTest::newRow("size forms") << "512KiB, 4MiB, 1GiB";
    QTest::newRow("precedence") << "flag, else its FMB_* environment variable";
}

void tst_ConfigLoader::helpText()
{
    QFETCH(QString, mention);

    const QString text = configHelpText();
    QVERIFY2(text.contains(mention), qPrintable(mention));
}

// The whole --help text, byte for byte: a change to a flag, variable, key,
// value name, help line or default shows up here as a diff (issue 12).
void tst_ConfigLoader::helpTextPinned()
{
    QFile file(QStringLiteral(FMB_SOURCE_DIR "/tests/config/help.txt"));
    QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(file.fileName()));
    QCOMPARE(configHelpText(), QString::fromUtf8(file.readAll()));
}

void tst_ConfigLoader::namesFromKey_data()
{
    QTest::addColumn<QString>("flag");
    QTest::addColumn<QString>("expectedFlag");
    QTest::addColumn<QString>("envVar");
    QTest::addColumn<QString>("expectedEnvVar");

    // Flag: the key with '-' for '_'; variable: FMB_ and the key in capitals.
    // allowed_origins predates the rule: its flag names one origin.
    for (const ConfigSetting &setting : configSettings()) {
        const QString flag = setting.key == QLatin1String("allowed_origins")
                                 ? QStringLiteral("allowed-origin")
                                 : QString(setting.key).replace(QLatin1Char('_'), QLatin1Char('-'));
        QTest::addRow("%s", qPrintable(setting.key))
            << setting.flag << flag << setting.envVar
            << QString(QLatin1String("FMB_") + setting.key.toUpper());
    }
}

void tst_ConfigLoader::namesFromKey()
{
    QFETCH(QString, flag);
    QFETCH(QString, expectedFlag);
    QFETCH(QString, envVar);
    QFETCH(QString, expectedEnvVar);

    QCOMPARE(flag, expectedFlag);
    QCOMPARE(envVar, expectedEnvVar);
}

// Every message the loader gives, whole (rejected() checks parts of them);
// %FILE% is the INI file the row writes.
void tst_ConfigLoader::messages_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QStringList>("env");
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QString>("subject");
    QTest::addColumn<QString>("message");

    const QStringList noEnv;
    const QByteArray noIni;
    QTest::newRow("unknown flag") << withChild({"--lisen", "127.0.0.1:1"}) << noEnv << noIni << "--lisen"
                                  << QStringLiteral("--lisen: unknown flag (see --help)");
    QTest::newRow("single-dash flag") << withChild({"-listen", "x"}) << noEnv << noIni << "-listen"
                                      << QStringLiteral("-listen: unknown flag (see --help)");
    QTest::newRow("stray argument")
        << withChild({"serve"}) << noEnv << noIni << "command line"
        << QStringLiteral(
               "command line: argument 5 is not a flag; give settings as --name VALUE (see --help)");
    QTest::newRow("argument after --")
        << withChild({"--", "x"}) << noEnv << noIni << "command line"
        << QStringLiteral(
               "command line: argument 6 is not a flag; give settings as --name VALUE (see --help)");
    QTest::newRow("flag without its value") << withChild({"--listen"}) << noEnv << noIni << "listen"
                                            << QStringLiteral("listen: --listen needs a value (HOST:PORT)");
    QTest::newRow("scalar flag without its value")
        << withChild({"--max-sessions"}) << noEnv << noIni << "max_sessions"
        << QStringLiteral("max_sessions: --max-sessions needs a value (N)");
    QTest::newRow("--help with a value") << withChild({"--help=yes"}) << noEnv << noIni << "--help"
                                         << QStringLiteral("--help: takes no value");
    QTest::newRow("--version with a value") << withChild({"--version=1"}) << noEnv << noIni << "--version"
                                            << QStringLiteral("--version: takes no value");
    QTest::newRow("config: no such file")
        << withChild({"--config", "/nonexistent/fmb.ini"}) << noEnv << noIni << "config"
        << QStringLiteral("config: cannot read \"/nonexistent/fmb.ini\": no such file; from --config");
    QTest::newRow("config: a directory")
        << withChild({"--config", "/"}) << noEnv << noIni << "config"
        << QStringLiteral("config: cannot read \"/\": not a regular file; from --config");
    QTest::newRow("config: from the variable")
        << withChild() << QStringList{QStringLiteral("FMB_CONFIG=/nonexistent/fmb.ini")} << noIni << "config"
        << QStringLiteral("config: cannot read \"/nonexistent/fmb.ini\": no such file; from FMB_CONFIG");
    QTest::newRow("config: unknown key")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("bogus = 1\n") << "bogus"
        << QStringLiteral("bogus: unknown key in %FILE% (see --help for the keys)");
    QTest::newRow("config: key in a section")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("[network]\nlisten = 127.0.0.1:1\n")
        << "network/listen"
        << QStringLiteral("network/listen: unknown key in %FILE%; write listen= at the top of the file, "
                          "before any [section]");
    QTest::newRow("config: config in the file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("config = other.ini\n") << "config"
        << QStringLiteral("config: unknown key in %FILE%; the file to read is given only by --config or "
                          "FMB_CONFIG; from --config");
    QTest::newRow("config: bad value in the file")
        << withChild({"--config", "%FILE%"}) << noEnv << QByteArray("max_sessions = 0\n") << "max_sessions"
        << QStringLiteral("max_sessions: \"0\" is not a whole number between 1 and 100000; from %FILE%");
    QTest::newRow("listen: no port") << withChild({"--listen", "127.0.0.1"}) << noEnv << noIni << "listen"
                                     << QStringLiteral(
                                            "listen: \"127.0.0.1\" is not HOST:PORT (try 127.0.0.1:8080, "
                                            "[::1]:8080 or localhost:0); from --listen");
    QTest::newRow("listen: port out of range")
        << withChild({"--listen", "127.0.0.1:70000"}) << noEnv << noIni << "listen"
        << QStringLiteral("listen: \"127.0.0.1:70000\": port \"70000\" is not a whole number between 0 and "
                          "65535; from --listen");
    QTest::newRow("listen: port not a number")
        << withChild({"--listen", "127.0.0.1:http"}) << noEnv << noIni << "listen"
        << QStringLiteral("listen: \"127.0.0.1:http\": port \"http\" is not a whole number between 0 and "
                          "65535; from --listen");
    QTest::newRow("listen: unclosed bracket")
        << withChild({"--listen", "[::1"}) << noEnv << noIni << "listen"
        << QStringLiteral("listen: \"[::1\" is not HOST:PORT (try [::1]:8080); from --listen");
    QTest::newRow("listen: not IPv6 in brackets")
        << withChild({"--listen", "[zz]:1"}) << noEnv << noIni << "listen"
        << QStringLiteral("listen: \"[zz]:1\": \"zz\" is not an IPv6 address; from --listen");
    QTest::newRow("listen: IPv6 without brackets")
        << withChild({"--listen", "::1:80"}) << noEnv << noIni << "listen"
        << QStringLiteral(
               "listen: \"::1:80\" needs brackets around an IPv6 address (try [::1]:8080); from --listen");
    QTest::newRow("listen: bad host")
        << withChild({"--listen", "bad_host:1"}) << noEnv << noIni << "listen"
        << QStringLiteral(
               "listen: \"bad_host:1\": \"bad_host\" is not a host name or IPv4 address; from --listen");
    QTest::newRow("listen: bad IPv4")
        << withChild({"--listen", "1.2.3.999:1"}) << noEnv << noIni << "listen"
        << QStringLiteral(
               "listen: \"1.2.3.999:1\": \"1.2.3.999\" is not a host name or IPv4 address; from --listen");
    QTest::newRow("listen: from the variable")
        << withChild() << QStringList{QStringLiteral("FMB_LISTEN=nope")} << noIni << "listen"
        << QStringLiteral("listen: \"nope\" is not HOST:PORT (try 127.0.0.1:8080, [::1]:8080 or "
                          "localhost:0); from FMB_LISTEN");
    QTest::newRow("auth: unknown word")
        << withChild({"--auth", "maybe"}) << noEnv << noIni << "auth"
        << QStringLiteral("auth: \"maybe\" is not one of: none, oauth; from --auth");
    QTest::newRow("auth: none on a public address")
        << withChild({"--listen", "0.0.0.0:8080"}) << noEnv << noIni << "auth"
        << QStringLiteral("auth: \"none\" is refused when listening on \"0.0.0.0:8080\", which is not a "
                          "loopback address (127.0.0.0/8, ::1 or localhost); listen on one of those or use "
                          "--auth oauth; auth from --auth, listen from --listen");
    QTest::newRow("auth: none on a public address from env")
        << childOnly()
        << QStringList{QStringLiteral("FMB_AUTH=none"), QStringLiteral("FMB_LISTEN=[2001:db8::1]:80")}
        << noIni << "auth"
        << QStringLiteral("auth: \"none\" is refused when listening on \"[2001:db8::1]:80\", which is not a "
                          "loopback address (127.0.0.0/8, ::1 or localhost); listen on one of those or use "
                          "--auth oauth; auth from FMB_AUTH, listen from FMB_LISTEN");
    QTest::newRow("auth: oauth needs public_url")
        << childOnly() << noEnv << noIni << "public_url"
        << QStringLiteral(
               "auth: \"oauth\" needs public_url (--public-url); it can also come from FMB_PUBLIC_URL or the "
               "config file; for local mode on a loopback address use --auth none; auth from the default");
    QTest::newRow("auth: oauth needs forgejo_client_secret_file")
        << childOnly({"--public-url", "https://m.example", "--forgejo-url", "https://f.example",
                      "--forgejo-client-id", "c"})
        << noEnv << noIni << "forgejo_client_secret_file"
        << QStringLiteral("auth: \"oauth\" needs forgejo_client_secret_file (--forgejo-client-secret-file); "
                          "it can also come from FMB_FORGEJO_CLIENT_SECRET_FILE or the config file; for "
                          "local mode on a loopback address use --auth none; auth from the default");
    QTest::newRow("child_command: missing")
        << words({"--auth", "none"}) << noEnv << noIni << "child_command"
        << QStringLiteral("child_command is required: give the stdio MCP server to run with --child-command, "
                          "FMB_CHILD_COMMAND or child_command in the config file");
    QTest::newRow("child_command: empty")
        << withChild({"--child-command", ""}) << noEnv << noIni << "child_command"
        << QStringLiteral("child_command is required but empty; from --child-command");
    QTest::newRow("child_command: empty quotes")
        << withChild({"--child-command", "\"\""}) << noEnv << noIni << "child_command"
        << QStringLiteral("child_command is required but empty; from --child-command");
    QTest::newRow("child_env: no equals")
        << withChild({"--child-env", "NOEQUALS"}) << noEnv << noIni << "child_env"
        << QStringLiteral(
               "child_env: entry 1 has no \"=\" (want NAME=VALUE; the value is not shown); from --child-env");
    QTest::newRow("child_env: bad name")
        << withChild({"--child-env", "1BAD=x"}) << noEnv << noIni << "child_env"
        << QStringLiteral("child_env: entry 1 does not start with a NAME matching [A-Za-z_][A-Za-z0-9_]* "
                          "followed by \"=\" (the entry is not shown); from --child-env");
    QTest::newRow("child_env: twice")
        << withChild({"--child-env", "A=1", "--child-env", "A=2"}) << noEnv << noIni << "child_env"
        << QStringLiteral("child_env: A is given more than once; from --child-env");
    QTest::newRow("child_env: second entry in the variable")
        << withChild() << QStringList{QStringLiteral("FMB_CHILD_ENV=A=1\nnope")} << noIni << "child_env"
        << QStringLiteral("child_env: entry 2 has no \"=\" (want NAME=VALUE; the value is not shown); from "
                          "FMB_CHILD_ENV");
    QTest::newRow("max_sessions: 0")
        << withChild({"--max-sessions", "0"}) << noEnv << noIni << "max_sessions"
        << QStringLiteral(
               "max_sessions: \"0\" is not a whole number between 1 and 100000; from --max-sessions");
    QTest::newRow("max_sessions: too many")
        << withChild({"--max-sessions", "100001"}) << noEnv << noIni << "max_sessions"
        << QStringLiteral(
               "max_sessions: \"100001\" is not a whole number between 1 and 100000; from --max-sessions");
    QTest::newRow("max_sessions: negative")
        << withChild({"--max-sessions", "-1"}) << noEnv << noIni << "max_sessions"
        << QStringLiteral(
               "max_sessions: \"-1\" is not a whole number between 1 and 100000; from --max-sessions");
    QTest::newRow("max_sessions: 13 digits")
        << withChild({"--max-sessions", "1234567890123"}) << noEnv << noIni << "max_sessions"
        << QStringLiteral("max_sessions: \"1234567890123\" is not a whole number between 1 and 100000; from "
                          "--max-sessions");
    QTest::newRow("max_sessions: from the variable")
        << withChild() << QStringList{QStringLiteral("FMB_MAX_SESSIONS=x")} << noIni << "max_sessions"
        << QStringLiteral(
               "max_sessions: \"x\" is not a whole number between 1 and 100000; from FMB_MAX_SESSIONS");
    QTest::newRow("idle_timeout: bad unit")
        << withChild({"--idle-timeout", "15x"}) << noEnv << noIni << "idle_timeout"
        << QStringLiteral("idle_timeout: \"15x\" is not a duration (try 900s or 15m); from --idle-timeout");
    QTest::newRow("idle_timeout: 0")
        << withChild({"--idle-timeout", "0"}) << noEnv << noIni << "idle_timeout"
        << QStringLiteral("idle_timeout: \"0\" is not more than 0 (try 900s or 15m); from --idle-timeout");
    QTest::newRow("idle_timeout: above 720h")
        << withChild({"--idle-timeout", "721h"}) << noEnv << noIni << "idle_timeout"
        << QStringLiteral("idle_timeout: \"721h\" is more than the limit of 720h; from --idle-timeout");
    QTest::newRow("reap_interval: 0s")
        << withChild({"--reap-interval", "0s"}) << noEnv << noIni << "reap_interval"
        << QStringLiteral("reap_interval: \"0s\" is not more than 0 (try 30s or 1m); from --reap-interval");
    QTest::newRow("reap_interval: above 24h")
        << withChild({"--reap-interval", "25h"}) << noEnv << noIni << "reap_interval"
        << QStringLiteral("reap_interval: \"25h\" is more than the limit of 24h; from --reap-interval");
    QTest::newRow("max_batch_messages: 0")
        << withChild({"--max-batch-messages", "0"}) << noEnv << noIni << "max_batch_messages"
        << QStringLiteral("max_batch_messages: \"0\" is not a whole number between 1 and 100000; from "
                          "--max-batch-messages");
    QTest::newRow("max_pending_requests: x")
        << withChild({"--max-pending-requests", "x"}) << noEnv << noIni << "max_pending_requests"
        << QStringLiteral("max_pending_requests: \"x\" is not a whole number between 1 and 100000; from "
                          "--max-pending-requests");
    QTest::newRow("max_subscriptions_per_session: too many")
        << withChild({"--max-subscriptions-per-session", "1000001"}) << noEnv << noIni
        << "max_subscriptions_per_session"
        << QStringLiteral("max_subscriptions_per_session: \"1000001\" is not a whole number between 1 and "
                          "1000000; from --max-subscriptions-per-session");
    QTest::newRow("input_required_ttl: zero")
        << withChild({"--input-required-ttl", "0s"}) << noEnv << noIni << "input_required_ttl"
        << QStringLiteral("input_required_ttl: \"0s\" is not more than 0 (try 120s or 2m); from "
                          "--input-required-ttl");
    QTest::newRow("max_parked_calls_per_user: 0")
        << withChild({"--max-parked-calls-per-user", "0"}) << noEnv << noIni << "max_parked_calls_per_user"
        << QStringLiteral("max_parked_calls_per_user: \"0\" is not a whole number between 1 and 100000; from "
                          "--max-parked-calls-per-user");
    QTest::newRow("max_listeners_per_user: 0")
        << withChild({"--max-listeners-per-user", "0"}) << noEnv << noIni << "max_listeners_per_user"
        << QStringLiteral("max_listeners_per_user: \"0\" is not a whole number between 1 and 100000; from "
                          "--max-listeners-per-user");
    QTest::newRow("allowed_origins: ftp")
        << withChild({"--allowed-origin", "ftp://x.example"}) << noEnv << noIni << "allowed_origins"
        << QStringLiteral(
               "allowed_origins: \"ftp://x.example\" is not an http:// or https:// URL with a host (an "
               "origin is scheme://host[:port], e.g. https://example.org); from --allowed-origin");
    QTest::newRow("allowed_origins: user info")
        << withChild({"--allowed-origin", "https://u:pw@x.example"}) << noEnv << noIni << "allowed_origins"
        << QStringLiteral(
               "allowed_origins: \"https://***@x.example\" must not contain a user name or password (an "
               "origin is scheme://host[:port], e.g. https://example.org); from --allowed-origin");
    QTest::newRow("allowed_origins: path")
        << withChild({"--allowed-origin", "https://x.example/"}) << noEnv << noIni << "allowed_origins"
        << QStringLiteral("allowed_origins: \"https://x.example/\" has a path; an origin is "
                          "scheme://host[:port] only, with no trailing slash; from --allowed-origin");
    QTest::newRow("allowed_origins: query")
        << withChild({"--allowed-origin", "https://x.example?q"}) << noEnv << noIni << "allowed_origins"
        << QStringLiteral(
               "allowed_origins: \"https://x.example?q\" must not have a query (?) or fragment (#) (an "
               "origin is scheme://host[:port], e.g. https://example.org); from --allowed-origin");
    QTest::newRow("allowed_origins: second in the variable")
        << withChild() << QStringList{QStringLiteral("FMB_ALLOWED_ORIGINS=https://a.example, nope")} << noIni
        << "allowed_origins"
        << QStringLiteral(
               "allowed_origins: \"nope\" is not an http:// or https:// URL with a host (an origin is "
               "scheme://host[:port], e.g. https://example.org); from FMB_ALLOWED_ORIGINS");
    QTest::newRow("max_body_bytes: decimal unit")
        << withChild({"--max-body-bytes", "4MB"}) << noEnv << noIni << "max_body_bytes"
        << QStringLiteral(
               "max_body_bytes: \"4MB\" is not a size in bytes (try 4194304 or 4MiB); from --max-body-bytes");
    QTest::newRow("max_body_bytes: 0")
        << withChild({"--max-body-bytes", "0"}) << noEnv << noIni << "max_body_bytes"
        << QStringLiteral("max_body_bytes: \"0\" is not between 1 byte and 1GiB; from --max-body-bytes");
    QTest::newRow("max_body_bytes: above 1GiB")
        << withChild({"--max-body-bytes", "2GiB"}) << noEnv << noIni << "max_body_bytes"
        << QStringLiteral("max_body_bytes: \"2GiB\" is not between 1 byte and 1GiB; from --max-body-bytes");
    QTest::newRow("request_timeout: 0ms")
        << withChild({"--request-timeout", "0ms"}) << noEnv << noIni << "request_timeout"
        << QStringLiteral(
               "request_timeout: \"0ms\" is not more than 0 (try 30s or 500ms); from --request-timeout");
    QTest::newRow("keepalive_timeout: x")
        << withChild({"--keepalive-timeout", "x"}) << noEnv << noIni << "keepalive_timeout"
        << QStringLiteral(
               "keepalive_timeout: \"x\" is not a duration (try 90s or 2m); from --keepalive-timeout");
    QTest::newRow("max_connections: 0")
        << withChild({"--max-connections", "0"}) << noEnv << noIni << "max_connections"
        << QStringLiteral("max_connections: \"0\" is not \"auto\" or a whole number between 1 and 1000000; "
                          "from --max-connections");
    QTest::newRow("max_connections: auto2")
        << withChild({"--max-connections", "auto2"}) << noEnv << noIni << "max_connections"
        << QStringLiteral("max_connections: \"auto2\" is not \"auto\" or a whole number between 1 and "
                          "1000000; from --max-connections");
    QTest::newRow("max_connections: too many")
        << withChild({"--max-connections", "1000001"}) << noEnv << noIni << "max_connections"
        << QStringLiteral("max_connections: \"1000001\" is not \"auto\" or a whole number between 1 and "
                          "1000000; from --max-connections");
    QTest::newRow("max_connections_per_address: auto")
        << withChild({"--max-connections-per-address", "auto"}) << noEnv << noIni
        << "max_connections_per_address"
        << QStringLiteral("max_connections_per_address: \"auto\" is not a whole number between 0 and "
                          "1000000; from --max-connections-per-address");
    QTest::newRow("max_connections_per_address: too many")
        << withChild({"--max-connections-per-address", "1000001"}) << noEnv << noIni
        << "max_connections_per_address"
        << QStringLiteral("max_connections_per_address: \"1000001\" is not a whole number between 0 and "
                          "1000000; from --max-connections-per-address");
    QTest::newRow("child_max_line_bytes: x")
        << withChild({"--child-max-line-bytes", "x"}) << noEnv << noIni << "child_max_line_bytes"
        << QStringLiteral("child_max_line_bytes: \"x\" is not a size in bytes (try 16777216 or 16MiB); from "
                          "--child-max-line-bytes");
    QTest::newRow("child_stop_grace: above 24h")
        << withChild({"--child-stop-grace", "25h"}) << noEnv << noIni << "child_stop_grace"
        << QStringLiteral("child_stop_grace: \"25h\" is more than the limit of 24h; from --child-stop-grace");
    QTest::newRow("child_stdio: pipe")
        << withChild({"--child-stdio", "pipe"}) << noEnv << noIni << "child_stdio"
        << QStringLiteral("child_stdio: \"pipe\" is not one of: auto, pipes, socket; from --child-stdio");
    QTest::newRow("child_pass_env: bad name")
        << withChild({"--child-pass-env", "1X"}) << noEnv << noIni << "child_pass_env"
        << QStringLiteral("child_pass_env: \"1X\" is not an environment variable name matching "
                          "[A-Za-z_][A-Za-z0-9_]*; from --child-pass-env");
    QTest::newRow("child_pass_env: FMB_")
        << withChild({"--child-pass-env", "FMB_X"}) << noEnv << noIni << "child_pass_env"
        << QStringLiteral("child_pass_env: FMB_X is one of the broker's own settings (FMB_*), which children "
                          "never get; use child_env for a value; from --child-pass-env");
    QTest::newRow("child_sandbox: on")
        << withChild({"--child-sandbox", "on"}) << noEnv << noIni << "child_sandbox"
        << QStringLiteral("child_sandbox: \"on\" is not one of: auto, require, off; from --child-sandbox");
    QTest::newRow("child_allow_read: relative")
        << withChild({"--child-allow-read", "rel/path"}) << noEnv << noIni << "child_allow_read"
        << QStringLiteral("child_allow_read: \"rel/path\" is not an absolute path; from --child-allow-read");
    QTest::newRow("child_allow_write: relative")
        << withChild({"--child-allow-write", "x"}) << noEnv << noIni << "child_allow_write"
        << QStringLiteral("child_allow_write: \"x\" is not an absolute path; from --child-allow-write");
    QTest::newRow("public_url: ftp")
        << withChild({"--public-url", "ftp://x.example"}) << noEnv << noIni << "public_url"
        << QStringLiteral("public_url: \"ftp://x.example\" is not an http:// or https:// URL with a host "
                          "(try https://mcp.example.org); from --public-url");
    QTest::newRow("public_url: user info")
        << withChild({"--public-url", "https://u:pw@x.example"}) << noEnv << noIni << "public_url"
        << QStringLiteral("public_url: \"https://***@x.example\" must not contain a user name or password "
                          "(try https://mcp.example.org); from --public-url");
    QTest::newRow("public_url: query")
        << withChild({"--public-url", "https://x.example?q=1"}) << noEnv << noIni << "public_url"
        << QStringLiteral("public_url: \"https://x.example?q=1\" must not have a query (?) or fragment (#) "
                          "(try https://mcp.example.org); from --public-url");
    QTest::newRow("forgejo_url: no URL")
        << withChild({"--forgejo-url", "notaurl"}) << noEnv << noIni << "forgejo_url"
        << QStringLiteral("forgejo_url: \"notaurl\" is not an http:// or https:// URL with a host (try "
                          "https://forge.example.org); from --forgejo-url");
    QTest::newRow("forgejo_client_id: control character")
        << withChild({"--forgejo-client-id", "a\tb"}) << noEnv << noIni << "forgejo_client_id"
        << QStringLiteral("forgejo_client_id: has a character that is not printable ASCII (RFC 6749, "
                          "appendix A.1); copy the client ID from Forgejo again; from --forgejo-client-id");
    QTest::newRow("upstream_authorize_url: no URL")
        << withChild({"--upstream-authorize-url", "x"}) << noEnv << noIni << "upstream_authorize_url"
        << QStringLiteral("upstream_authorize_url: \"x\" is not an http:// or https:// URL with a host (try "
                          "https://forge.example.org/login/oauth/authorize); from --upstream-authorize-url");
    QTest::newRow("upstream_token_url: fragment")
        << withChild({"--upstream-token-url", "https://x.example/t#f"}) << noEnv << noIni
        << "upstream_token_url"
        << QStringLiteral(
               "upstream_token_url: \"https://x.example/t#f\" must not have a query (?) or fragment (#) (try "
               "https://forge.example.org/login/oauth/access_token); from --upstream-token-url");
    QTest::newRow("upstream_user_url: no host")
        << withChild({"--upstream-user-url", "http://"}) << noEnv << noIni << "upstream_user_url"
        << QStringLiteral("upstream_user_url: \"http://\" is not an http:// or https:// URL with a host (try "
                          "https://forge.example.org/api/v1/user); from --upstream-user-url");
    QTest::newRow("token_env: bad name")
        << withChild({"--token-env", "1A"}) << noEnv << noIni << "token_env"
        << QStringLiteral("token_env: \"1A\" is not an environment variable name matching "
                          "[A-Za-z_][A-Za-z0-9_]* (try FORGEJO_ACCESS_TOKEN); from --token-env");
    QTest::newRow("max_sessions_per_user: too many")
        << withChild({"--max-sessions-per-user", "100001"}) << noEnv << noIni << "max_sessions_per_user"
        << QStringLiteral("max_sessions_per_user: \"100001\" is not a whole number between 0 and 100000; "
                          "from --max-sessions-per-user");
    QTest::newRow("rotate_interval: 0")
        << withChild({"--rotate-interval", "0"}) << noEnv << noIni << "rotate_interval"
        << QStringLiteral(
               "rotate_interval: \"0\" is not more than 0 (try 60s or 1m); from --rotate-interval");
    QTest::newRow("refresh_lead: x")
        << withChild({"--refresh-lead", "x"}) << noEnv << noIni << "refresh_lead"
        << QStringLiteral("refresh_lead: \"x\" is not a duration (try 300s or 5m); from --refresh-lead");
    QTest::newRow("access_token_ttl: above 24h")
        << withChild({"--access-token-ttl", "25h"}) << noEnv << noIni << "access_token_ttl"
        << QStringLiteral("access_token_ttl: \"25h\" is more than the limit of 24h; from --access-token-ttl");
    QTest::newRow("refresh_token_ttl: above 8760h")
        << withChild({"--refresh-token-ttl", "8761h"}) << noEnv << noIni << "refresh_token_ttl"
        << QStringLiteral(
               "refresh_token_ttl: \"8761h\" is more than the limit of 8760h; from --refresh-token-ttl");
    QTest::newRow("refresh_token_ttl: x")
        << withChild({"--refresh-token-ttl", "x"}) << noEnv << noIni << "refresh_token_ttl"
        << QStringLiteral(
               "refresh_token_ttl: \"x\" is not a duration (try 720h for 30 days); from --refresh-token-ttl");
    QTest::newRow("metadata_allow_private_hosts: yes")
        << withChild({"--metadata-allow-private-hosts=yes"}) << noEnv << noIni
        << "metadata_allow_private_hosts"
        << QStringLiteral("metadata_allow_private_hosts: \"yes\" is not one of: true, false, 1, 0; from "
                          "--metadata-allow-private-hosts");
    QTest::newRow("metadata_allow_private_hosts: from the variable")
        << withChild() << QStringList{QStringLiteral("FMB_METADATA_ALLOW_PRIVATE_HOSTS=maybe")} << noIni
        << "metadata_allow_private_hosts"
        << QStringLiteral("metadata_allow_private_hosts: \"maybe\" is not one of: true, false, 1, 0; from "
                          "FMB_METADATA_ALLOW_PRIVATE_HOSTS");
    QTest::newRow("register_rate: too many")
        << withChild({"--register-rate", "100001"}) << noEnv << noIni << "register_rate"
        << QStringLiteral(
               "register_rate: \"100001\" is not a whole number between 0 and 100000; from --register-rate");
    QTest::newRow("max_pending_clients: too many")
        << withChild({"--max-pending-clients", "1000001"}) << noEnv << noIni << "max_pending_clients"
        << QStringLiteral("max_pending_clients: \"1000001\" is not a whole number between 0 and 1000000; "
                          "from --max-pending-clients");
    QTest::newRow("pending_client_ttl: 0")
        << withChild({"--pending-client-ttl", "0"}) << noEnv << noIni << "pending_client_ttl"
        << QStringLiteral(
               "pending_client_ttl: \"0\" is not more than 0 (try 3600s or 1h); from --pending-client-ttl");
    QTest::newRow("pending_client_ttl: above 8760h")
        << withChild({"--pending-client-ttl", "8761h"}) << noEnv << noIni << "pending_client_ttl"
        << QStringLiteral(
               "pending_client_ttl: \"8761h\" is more than the limit of 8760h; from --pending-client-ttl");
    QTest::newRow("max_registration_bytes: above 64KiB")
        << withChild({"--max-registration-bytes", "65KiB"}) << noEnv << noIni << "max_registration_bytes"
        << QStringLiteral("max_registration_bytes: \"65KiB\" is more than the limit of 64KiB; from "
                          "--max-registration-bytes");
    QTest::newRow("max_registration_bytes: above 1GiB")
        << withChild({"--max-registration-bytes", "2GiB"}) << noEnv << noIni << "max_registration_bytes"
        << QStringLiteral("max_registration_bytes: \"2GiB\" is not between 1 byte and 1GiB; from "
                          "--max-registration-bytes");
    QTest::newRow("max_registration_bytes: x")
        << withChild({"--max-registration-bytes", "x"}) << noEnv << noIni << "max_registration_bytes"
        << QStringLiteral("max_registration_bytes: \"x\" is not a size in bytes (try 8KiB); from "
                          "--max-registration-bytes");
    QTest::newRow("admin_socket: too long")
        << withChild({"--admin-socket", QString(QLatin1String("/tmp/") + QString(110, QLatin1Char('a')))})
        << noEnv << noIni << "admin_socket"
        << QStringLiteral("admin_socket: "
                          "\"/tmp/"
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is too long for a Unix socket address (needs 115 "
                          "bytes, at most 107): choose a shorter path; from --admin-socket");
    QTest::newRow("event_loop: glib")
        << withChild({"--event-loop", "glib"}) << noEnv << noIni << "event_loop"
        << QStringLiteral("event_loop: \"glib\" is not one of: epoll, qt; from --event-loop");
}

void tst_ConfigLoader::messages()
{
    QFETCH(QStringList, args);
    QFETCH(QStringList, env);
    QFETCH(QByteArray, ini);
    QFETCH(QString, subject);
    QFETCH(QString, message);

    const Result<ConfigRequest> request = load(args, env, ini);
    QVERIFY(!request.ok());
    QCOMPARE(request.error().subject, subject);
    QCOMPARE(request.error().message, substitute(message));
}

QTEST_GUILESS_MAIN(tst_ConfigLoader)
#include "tst_configloader.moc"
