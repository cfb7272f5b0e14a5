#include "PostgresTokenStore.h"

#include <QSqlDriver>

#include "Logging.h"
#include "PostgresSchema.h"

namespace fmb {
namespace {

// pg_try_advisory_lock(key1, key2) class of the upstream refresh locks:
// "fmbR" in ASCII; the schema lock uses the one-key form, so they never meet.
constexpr int RefreshLockClass = 0x666d6252;
const QString TokensChannel = QStringLiteral("fmb_upstream_tokens");
// Issue 14: what another broker revoked ("grant:<id>", BearerRevocation).
const QString RevocationsChannel = QStringLiteral("fmb_bearer_revocations");

// Forgejo user ids are int64; two users folding to one key only share a lock.
int refreshLockKey(qint64 userId)
{
    return static_cast<int>(static_cast<quint32>(userId) ^ static_cast<quint32>(quint64(userId) >> 32));
}

} // namespace

QString PostgresParams::display() const
{
    QString text = QStringLiteral("postgresql://");
    if (!user.isEmpty())
        text += user + QLatin1Char('@');
    if (host.startsWith(QLatin1Char('/')))
        return text + QStringLiteral("/%1?host=%2").arg(database, host);
    return text + QStringLiteral("%1:%2/%3").arg(host).arg(port).arg(database);
}

void PostgresParams::applyTo(QSqlDatabase &db) const
{
    db.setHostName(host);
    db.setPort(port);
    db.setDatabaseName(database);
    db.setUserName(user);
    if (!password.isEmpty())
        db.setPassword(password);
    // A database host that vanishes without a reset (power loss, a partition)
    // would leave a statement waiting on TCP retransmits for about 15 min,
    // with the HTTP thread: keepalive probes and an unacknowledged-data limit
    // fail it within about 30 s instead (libpq; ignored on a Unix socket).
    db.setConnectOptions(QStringLiteral("connect_timeout=%1;application_name=forgejo-mcp-broker;keepalives=1;"
                                        "keepalives_idle=10;keepalives_interval=5;keepalives_count=3;"
                                        "tcp_user_timeout=30000")
                             .arg(connectTimeoutSeconds));
}

Result<void> PostgresTokenStore::open(const PostgresParams &params, const QString &keyPath, bool createKey)
{
    if (isAttached())
        return Error{ErrorCode::Conflict, where(), QStringLiteral("the token store is already open")};
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL"))) {
        return Error{ErrorCode::Unavailable, QStringLiteral("QPSQL"),
                     QStringLiteral("the Qt PostgreSQL driver is not installed (libqt6sql6-psql)")};
    }
    if (params.database.isEmpty())
        return Error{ErrorCode::InvalidArgument, QStringLiteral("database"),
                     QStringLiteral("no database name")};
    Result<SecretBox> box =
        createKey ? SecretBox::loadOrCreateKeyFile(keyPath) : SecretBox::loadKeyFile(keyPath);
    if (!box.ok())
        return box.error();

    Connection connection;
    connection.name = newConnectionName();
    connection.where = params.display();
    connection.keyName = keyPath;
    connection.db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), connection.name);
    params.applyTo(connection.db);
    Result<void> attached = attach(connection, std::move(box).value(), &PostgresSchema::migrate);
    if (!attached.ok())
        return attached;
    QObject::connect(
        database().driver(), &QSqlDriver::notification, database().driver(),
        [this](const QString &name, QSqlDriver::NotificationSource source, const QVariant &payload) {
            if (source != QSqlDriver::SelfSource)
                notified(name, payload.toString());
        });
    listen();
    // The connection to the same server again; what lived on the old one
    // (LISTEN, refresh locks) is gone, so listen again.
    watchConnection([this](QSqlDatabase &db) -> Result<void> {
        if (!db.open())
            return Error{ErrorCode::Unavailable, where(),
                         QStringLiteral("cannot open the database: ") + db.lastError().text()};
        listen();
        return {};
    });
    return {};
}

void PostgresTokenStore::listen()
{
    QSqlDriver *driver = database().driver();
    for (const QString &channel : {TokensChannel, RevocationsChannel}) {
        // Not fatal: the rotator's sweep still adopts what other brokers
        // stored, and cached bearer tokens expire after the cache TTL.
        if (!driver->subscribedToNotifications().contains(channel) &&
            !driver->subscribeToNotification(channel)) {
            qCWarning(lcStore, "cannot LISTEN %s on %s: %s", qPrintable(channel), qPrintable(where()),
                      qPrintable(driver->lastError().text()));
        }
    }
}

void PostgresTokenStore::notified(const QString &channel, const QString &payload)
{
    if (channel == RevocationsChannel) {
        if (const std::optional<BearerRevocation> revocation = BearerRevocation::decode(payload))
            revokedElsewhere(*revocation);
        return;
    }
    if (channel != TokensChannel || !m_listener)
        return;
    bool ok = false;
    const qint64 userId = payload.toLongLong(&ok);
    if (ok)
        m_listener(userId);
}

void PostgresTokenStore::announceRevocation(const BearerRevocation &revocation)
{
    // Token hashes and record ids, never a token. A lost NOTIFY leaves the
    // other brokers' caches to expire after their TTL.
    Result<QSqlQuery> sent =
        run(QStringLiteral("SELECT pg_notify(?, ?)"), {RevocationsChannel, revocation.encode()});
    if (!sent.ok())
        qCWarning(lcStore, "cannot announce the revocation of %s: %s", qPrintable(revocation.encode()),
                  qPrintable(sent.error().message));
}

Result<bool> PostgresTokenStore::tryLockUpstreamRefresh(qint64 userId)
{
    Result<QSqlQuery> locked =
        run(QStringLiteral("SELECT pg_try_advisory_lock(CAST(? AS integer), CAST(? AS integer))"),
            {RefreshLockClass, refreshLockKey(userId)});
    if (!locked.ok())
        return locked.error();
    return locked.value().next() && locked.value().value(0).toBool();
}

void PostgresTokenStore::unlockUpstreamRefresh(qint64 userId)
{
    Result<QSqlQuery> unlocked =
        run(QStringLiteral("SELECT pg_advisory_unlock(CAST(? AS integer), CAST(? AS integer))"),
            {RefreshLockClass, refreshLockKey(userId)});
    if (!unlocked.ok())
        qCWarning(lcStore, "cannot release the upstream refresh lock of user %lld: %s", userId,
                  qPrintable(unlocked.error().message));
}

void PostgresTokenStore::announceUpstreamTokens(qint64 userId)
{
    // The payload is a user id, never a token.
    Result<QSqlQuery> sent =
        run(QStringLiteral("SELECT pg_notify(?, ?)"), {TokensChannel, QString::number(userId)});
    if (!sent.ok())
        qCWarning(lcStore, "cannot announce new upstream tokens of user %lld: %s", userId,
                  qPrintable(sent.error().message));
}

void PostgresTokenStore::setUpstreamTokensListener(std::function<void(qint64 userId)> listener)
{
    m_listener = std::move(listener);
}

QString PostgresTokenStore::lockRows(const QString &alias) const
{
    return QStringLiteral(" FOR UPDATE OF ") + alias;
}

} // namespace fmb
