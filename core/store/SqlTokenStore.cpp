#include "SqlTokenStore.h"

#include <atomic>
#include <utility>

#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>
#include <QSqlQuery>

#include "Logging.h"
#include "Sql.h"

namespace fmb {
namespace {

// Sealed into the meta table on first open; a key that cannot open it is not
// the key this database was written with.
constexpr char KeyCheckName[] = "key_check";
constexpr char KeyCheckPlain[] = "forgejo-mcp-broker key check v1";

std::atomic<quint64> connectionCounter{0};

QVariant toMs(const QDateTime &time)
{
    return time.isValid() ? QVariant(time.toMSecsSinceEpoch()) : QVariant();
}

QDateTime fromMs(const QVariant &value)
{
    if (value.isNull())
        return {};
    return QDateTime::fromMSecsSinceEpoch(value.toLongLong(), Qt::UTC);
}

QByteArray upstreamAad(const QString &grantId, const char *field)
{
    // The grant id binds a ciphertext to its row; the field name keeps the
    // access and refresh tokens of one row from being swapped.
    return grantId.toUtf8() + '\0' + field;
}

QSet<QString> scopeSet(const QString &scope)
{
    const QStringList parts = scope.split(QLatin1Char(' '), Qt::SkipEmptyParts);
    return QSet<QString>(parts.begin(), parts.end());
}

bool scopeCovers(const QString &granted, const QString &requested)
{
    return scopeSet(granted).contains(scopeSet(requested));
}

QString encodeUris(const QStringList &uris)
{
    return QString::fromUtf8(QJsonDocument(QJsonArray::fromStringList(uris)).toJson(QJsonDocument::Compact));
}

// Never a null QString: the column is NOT NULL.
QString authMethodOf(const ClientRecord &client)
{
    return client.tokenEndpointAuthMethod.isEmpty() ? QStringLiteral("none") : client.tokenEndpointAuthMethod;
}

// SQL NULL for a public client.
QVariant secretHashOf(const ClientRecord &client)
{
    return client.secretHash.isNull() ? QVariant() : QVariant(QString::fromLatin1(client.secretHash.hex()));
}

QStringList decodeUris(const QString &json)
{
    QStringList uris;
    const QJsonArray array = QJsonDocument::fromJson(json.toUtf8()).array();
    for (const QJsonValue &value : array)
        uris.append(value.toString());
    return uris;
}

Error notOpen()
{
    return Error{ErrorCode::Unavailable, QStringLiteral("store"),
                 QStringLiteral("the token store is not open")};
}

// How many rows a statement inserted, changed or deleted.
Result<int> rowsChanged(const Result<QSqlQuery> &query)
{
    if (!query.ok())
        return query.error();
    return query.value().numRowsAffected();
}

Error notFound(const QString &what, const QString &id)
{
    return Error{ErrorCode::NotFound, id, QStringLiteral("no %1 with this id").arg(what)};
}

Error badToken(const TokenHash &hash, const QString &why)
{
    return Error{ErrorCode::Unauthorized, hash.fingerprint(), why};
}

Error revokedGrant(const QString &grantId)
{
    return Error{ErrorCode::Unauthorized, grantId,
                 QStringLiteral("the grant was revoked; its upstream tokens are gone")};
}

const QString GrantColumns = QStringLiteral(
    "grant_id, user_login, user_id, client_id, scope, created_ms, upstream_expires_ms, revoked_ms");

GrantRecord readGrant(const QSqlQuery &query)
{
    GrantRecord grant;
    grant.grantId = query.value(0).toString();
    grant.userLogin = query.value(1).toString();
    grant.userId = query.value(2).toLongLong();
    grant.clientId = query.value(3).toString();
    grant.scope = query.value(4).toString();
    grant.created = fromMs(query.value(5));
    grant.upstreamAccessExpiresAt = fromMs(query.value(6));
    grant.revoked = fromMs(query.value(7));
    return grant;
}

} // namespace

SqlTokenStore::SqlTokenStore()
    : m_clock([] { return QDateTime::currentDateTimeUtc(); })
    , m_cache(std::make_shared<BearerCache>(BearerCacheLimits{std::chrono::milliseconds(0)}))
{}

SqlTokenStore::~SqlTokenStore()
{
    close();
}

void SqlTokenStore::setClock(std::function<QDateTime()> clock)
{
    m_clock = std::move(clock);
}

QDateTime SqlTokenStore::now() const
{
    return m_clock();
}

void SqlTokenStore::setBearerCacheLimits(const BearerCacheLimits &limits)
{
    m_cache = std::make_shared<BearerCache>(limits);
}

void SqlTokenStore::setRevalidator(std::function<void(const TokenHash &hash)> revalidator)
{
    m_revalidator = std::move(revalidator);
}

void SqlTokenStore::watchConnection(const std::function<Result<void>(QSqlDatabase &db)> &reopen)
{
    m_health = std::make_unique<ConnectionHealth>(m_where, [this, reopen]() -> Result<void> {
        m_db.close();
        if (Result<void> r = reopen(m_db); !r.ok())
            return r;
        if (Result<void> r = configureConnection(); !r.ok())
            return r;
        // Revocations announced while we were away were not heard.
        m_cache->expireAll();
        return {};
    });
}

Result<void> SqlTokenStore::connectionReady() const
{
    if (!isOpen())
        return notOpen();
    return m_health ? m_health->ready() : Result<void>();
}

Result<QSqlQuery> SqlTokenStore::watched(Result<QSqlQuery> result) const
{
    if (result.ok() || !m_health || m_health->isDown() || result.error().code == ErrorCode::Conflict)
        return result;
    // libpq reports a lost connection without a SQLSTATE, so ask the
    // connection itself: a server that answers (even with an error, as in
    // an aborted transaction) is still there.
    QSqlQuery probe(m_db);
    if (probe.exec(QStringLiteral("SELECT 1")) ||
        (!probe.lastError().nativeErrorCode().isEmpty() &&
         sqlError(probe.lastError(), {}).code != ErrorCode::Unavailable))
        return result;
    m_health->lost(result.error().message);
    return Error{ErrorCode::Unavailable, result.error().subject, result.error().message};
}

Result<QSqlQuery> SqlTokenStore::run(const QString &sql, const QVariantList &values) const
{
    if (Result<void> r = connectionReady(); !r.ok())
        return r.error();
    return watched(runSql(m_db, sql, values));
}

Result<QSqlQuery> SqlTokenStore::runNamed(const QString &sql, const SqlNamedValues &values) const
{
    if (Result<void> r = connectionReady(); !r.ok())
        return r.error();
    return watched(runSqlNamed(m_db, sql, values));
}

Result<SqlTransaction> SqlTokenStore::begin()
{
    if (Result<void> r = connectionReady(); !r.ok())
        return r.error();
    SqlTransaction transaction(m_db);
    if (Result<void> r = transaction.begin(); !r.ok()) {
        if (Result<QSqlQuery> checked = watched(r.error()); !checked.ok())
            return checked.error();
        return r.error();
    }
    return transaction;
}

void SqlTokenStore::bearersRevoked(const BearerRevocation &revocation)
{
    m_cache->evict(revocation);
    announceRevocation(revocation);
}

void SqlTokenStore::revokedElsewhere(const BearerRevocation &revocation)
{
    if (const int evicted = m_cache->evict(revocation); evicted > 0)
        qCDebug(lcStore, "evicted %d cached bearer tokens revoked by another broker (%s)", evicted,
                qPrintable(revocation.encode()));
}

Result<const SecretBox *> SqlTokenStore::box() const
{
    if (!isOpen())
        return notOpen();
    return &*m_box;
}

QString SqlTokenStore::newConnectionName()
{
    return QStringLiteral("fmb.store.%1").arg(++connectionCounter);
}

Result<void> SqlTokenStore::attach(const Connection &connection, SecretBox box, const Migrate &migrate)
{
    m_db = connection.db;
    m_connectionName = connection.name;
    m_where = connection.where;
    m_keyName = connection.keyName;
    if (!m_db.open()) {
        // The driver's text names the host and user, never the password.
        const Error error{ErrorCode::Io, m_where,
                          QStringLiteral("cannot open the database: ") + m_db.lastError().text()};
        close();
        return error;
    }
    m_box.emplace(std::move(box));

    Result<void> ready = configureConnection();
    if (ready.ok()) {
        Result<int> version = migrate(m_db);
        if (version.ok())
            m_schemaVersion = version.value();
        else
            ready = version.error();
    }
    if (ready.ok())
        ready = checkKey();
    if (!ready.ok()) {
        close();
        return ready;
    }
    qCInfo(lcStore, "opened %s (schema version %d)", qPrintable(m_where), m_schemaVersion);
    return {};
}

Result<void> SqlTokenStore::configureConnection()
{
    return {};
}

Result<void> SqlTokenStore::checkKey()
{
    // Insert-if-absent, then check what is there: two brokers opening one new
    // database at once agree on the first key check written.
    Result<QByteArray> sealed = m_box->seal(KeyCheckPlain, KeyCheckName);
    if (!sealed.ok())
        return sealed.error();
    if (Result<QSqlQuery> r = run(QStringLiteral("INSERT INTO meta (name, value) VALUES (?, ?) "
                                                 "ON CONFLICT (name) DO NOTHING"),
                                  {QString::fromLatin1(KeyCheckName), sealed.value()});
        !r.ok()) {
        return r.error();
    }
    Result<QSqlQuery> check =
        run(QStringLiteral("SELECT value FROM meta WHERE name = ?"), {QString::fromLatin1(KeyCheckName)});
    if (!check.ok())
        return check.error();
    if (!check.value().next() || !m_box->open(check.value().value(0).toByteArray(), KeyCheckName).ok()) {
        return Error{ErrorCode::Forbidden, m_where,
                     QStringLiteral("the key file %1 is not the key this database was written with; restore "
                                    "the original key file or start with an empty database")
                         .arg(m_keyName)};
    }
    return {};
}

void SqlTokenStore::close()
{
    if (m_connectionName.isEmpty())
        return;
    dropConnection(m_db, m_connectionName);
    m_where.clear();
    m_keyName.clear();
    m_box.reset();
    m_schemaVersion = 0;
    m_health.reset();
    m_cache->clear();
}

// --- clients ---------------------------------------------------------------

Result<void> SqlTokenStore::registerClient(const ClientRecord &client)
{
    if (client.clientId.isEmpty())
        return Error{ErrorCode::InvalidArgument, QStringLiteral("client_id"),
                     QStringLiteral("client_id is empty")};
    Result<SqlTransaction> transaction = begin();
    if (!transaction.ok())
        return transaction.error();
    Result<bool> exists = clientExists(client.clientId);
    if (!exists.ok())
        return exists.error();
    if (exists.value())
        return Error{ErrorCode::Conflict, client.clientId, QStringLiteral("a client with this id exists")};
    if (Result<QSqlQuery> r =
            run(QStringLiteral("INSERT INTO clients (client_id, client_name, redirect_uris, "
                               "kind, created_ms, token_endpoint_auth_method, "
                               "client_secret_hash) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                {client.clientId, client.clientName, encodeUris(client.redirectUris),
                 static_cast<int>(client.kind), toMs(now()), authMethodOf(client), secretHashOf(client)});
        !r.ok()) {
        return r.error();
    }
    return transaction.value().commit();
}

Result<void> SqlTokenStore::updateClient(const ClientRecord &client)
{
    return changeOne(QStringLiteral("client"), client.clientId,
                     QStringLiteral("UPDATE clients SET client_name = ?, redirect_uris = ?, "
                                    "kind = ?, token_endpoint_auth_method = ?, "
                                    "client_secret_hash = ? WHERE client_id = ?"),
                     {client.clientName, encodeUris(client.redirectUris), static_cast<int>(client.kind),
                      authMethodOf(client), secretHashOf(client), client.clientId});
}

Result<ClientRecord> SqlTokenStore::findClient(const QString &clientId) const
{
    Result<QSqlQuery> found =
        run(QStringLiteral("SELECT client_id, client_name, redirect_uris, kind, created_ms, "
                           "token_endpoint_auth_method, client_secret_hash "
                           "FROM clients WHERE client_id = ?"),
            {clientId});
    if (!found.ok())
        return found.error();
    QSqlQuery &query = found.value();
    if (!query.next())
        return notFound(QStringLiteral("client"), clientId);
    ClientRecord client;
    client.clientId = query.value(0).toString();
    client.clientName = query.value(1).toString();
    client.redirectUris = decodeUris(query.value(2).toString());
    client.kind = query.value(3).toInt() == static_cast<int>(ClientKind::MetadataDocument)
                      ? ClientKind::MetadataDocument
                      : ClientKind::Dynamic;
    client.created = fromMs(query.value(4));
    client.tokenEndpointAuthMethod = query.value(5).toString();
    if (!query.value(6).isNull())
        client.secretHash = TokenHash::fromHex(query.value(6).toByteArray());
    return client;
}

Result<bool> SqlTokenStore::clientExists(const QString &clientId) const
{
    Result<QSqlQuery> found = run(QStringLiteral("SELECT 1 FROM clients WHERE client_id = ?"), {clientId});
    if (!found.ok())
        return found.error();
    return found.value().next();
}

Result<void> SqlTokenStore::changeOne(const QString &what, const QString &id, const QString &sql,
                                      const QVariantList &values)
{
    Result<int> changed = rowsChanged(run(sql, values));
    if (!changed.ok())
        return changed.error();
    if (changed.value() != 1)
        return notFound(what, id);
    return {};
}

Result<void> SqlTokenStore::deleteClient(const QString &clientId)
{
    if (Result<void> r = changeOne(QStringLiteral("client"), clientId,
                                   QStringLiteral("DELETE FROM clients WHERE client_id = ?"), {clientId});
        !r.ok())
        return r;
    bearersRevoked(BearerRevocation{BearerRevocation::Kind::Client, clientId});
    qCInfo(lcStore, "deleted client %s with its grants", qPrintable(clientId));
    return {};
}

Result<PendingClients> SqlTokenStore::pendingClients() const
{
    Result<QSqlQuery> found =
        run(QStringLiteral("SELECT count(*), min(created_ms) FROM clients WHERE authorized_ms IS NULL"));
    if (!found.ok())
        return found.error();
    PendingClients pending;
    if (found.value().next()) {
        pending.count = found.value().value(0).toInt();
        pending.oldest = fromMs(found.value().value(1));
    }
    return pending;
}

Result<int> SqlTokenStore::purgePendingClients(const QDateTime &before)
{
    Result<int> purged =
        rowsChanged(run(QStringLiteral("DELETE FROM clients WHERE authorized_ms IS NULL AND created_ms < ?"),
                        {toMs(before)}));
    if (purged.ok() && purged.value() > 0)
        qCInfo(lcStore, "purged %d clients that never completed an authorization", purged.value());
    return purged;
}

// --- grants ----------------------------------------------------------------

Result<GrantRecord> SqlTokenStore::createGrant(const GrantRecord &grant, const UpstreamTokens &upstream)
{
    if (upstream.accessToken.isEmpty()) {
        return Error{ErrorCode::InvalidArgument, grant.clientId,
                     QStringLiteral("a grant needs an upstream access token")};
    }
    Result<const SecretBox *> sealer = box();
    if (!sealer.ok())
        return sealer.error();
    GrantRecord stored = grant;
    stored.grantId = generateRecordId();
    stored.created = now();
    stored.upstreamAccessExpiresAt = upstream.accessExpiresAt;

    Result<QByteArray> access =
        sealer.value()->seal(upstream.accessToken, upstreamAad(stored.grantId, "access"));
    if (!access.ok())
        return access.error();
    QVariant refresh;
    if (!upstream.refreshToken.isEmpty()) {
        Result<QByteArray> sealed =
            sealer.value()->seal(upstream.refreshToken, upstreamAad(stored.grantId, "refresh"));
        if (!sealed.ok())
            return sealed.error();
        refresh = sealed.value();
    }

    Result<SqlTransaction> transaction = begin();
    if (!transaction.ok())
        return transaction.error();
    Result<bool> client = clientExists(grant.clientId);
    if (!client.ok())
        return client.error();
    if (!client.value())
        return notFound(QStringLiteral("client"), grant.clientId);
    if (Result<QSqlQuery> r = run(
            QStringLiteral("INSERT INTO grants (grant_id, user_login, user_id, client_id, scope, created_ms, "
                           "upstream_access, upstream_refresh, upstream_expires_ms, upstream_updated_ms) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            {stored.grantId, stored.userLogin, stored.userId, stored.clientId, stored.scope,
             toMs(stored.created), access.value(), refresh, toMs(upstream.accessExpiresAt),
             toMs(stored.created)});
        !r.ok()) {
        return r.error();
    }
    // The client has completed an authorization: it is no longer pending.
    if (Result<QSqlQuery> r = run(QStringLiteral("UPDATE clients SET authorized_ms = ? "
                                                 "WHERE client_id = ? AND authorized_ms IS NULL"),
                                  {toMs(stored.created), stored.clientId});
        !r.ok()) {
        return r.error();
    }
    if (Result<void> r = transaction.value().commit(); !r.ok())
        return r.error();
    qCInfo(lcStore, "created grant %s for user %s and client %s", qPrintable(stored.grantId),
           qPrintable(stored.userLogin), qPrintable(stored.clientId));
    return stored;
}

Result<QList<GrantRecord>> SqlTokenStore::selectGrants(const QString &sql, const QVariantList &values) const
{
    Result<QSqlQuery> found = run(sql, values);
    if (!found.ok())
        return found.error();
    QList<GrantRecord> grants;
    while (found.value().next())
        grants.append(readGrant(found.value()));
    return grants;
}

Result<GrantRecord> SqlTokenStore::findGrant(const QString &grantId) const
{
    Result<QList<GrantRecord>> grants = selectGrants(QStringLiteral("SELECT ") + GrantColumns +
                                                         QStringLiteral(" FROM grants WHERE grant_id = ?"),
                                                     {grantId});
    if (!grants.ok())
        return grants.error();
    if (grants.value().isEmpty())
        return notFound(QStringLiteral("grant"), grantId);
    return grants.value().constFirst();
}

Result<QList<GrantRecord>> SqlTokenStore::grantsForUser(qint64 userId) const
{
    return selectGrants(
        QStringLiteral("SELECT ") + GrantColumns +
            QStringLiteral(" FROM grants WHERE user_id = ? AND revoked_ms IS NULL ORDER BY created_ms"),
        {userId});
}

Result<QList<GrantRecord>> SqlTokenStore::grantsExpiringBefore(const QDateTime &when) const
{
    return selectGrants(QStringLiteral("SELECT ") + GrantColumns +
                            QStringLiteral(" FROM grants WHERE upstream_expires_ms IS NOT NULL "
                                           "AND upstream_expires_ms < ? AND revoked_ms IS NULL "
                                           "ORDER BY upstream_expires_ms"),
                        {toMs(when)});
}

Result<UpstreamTokens> SqlTokenStore::upstreamTokens(const QString &grantId) const
{
    Result<QSqlQuery> found =
        run(QStringLiteral("SELECT upstream_access, upstream_refresh, upstream_expires_ms, "
                           "revoked_ms FROM grants WHERE grant_id = ?"),
            {grantId});
    if (!found.ok())
        return found.error();
    QSqlQuery &query = found.value();
    if (!query.next())
        return notFound(QStringLiteral("grant"), grantId);
    if (!query.value(3).isNull())
        return revokedGrant(grantId);
    UpstreamTokens tokens;
    Result<QByteArray> access = m_box->open(query.value(0).toByteArray(), upstreamAad(grantId, "access"));
    if (!access.ok())
        return Error{access.error().code, grantId,
                     QStringLiteral("upstream access token: ") + access.error().message};
    tokens.accessToken = std::move(access).value();
    if (!query.value(1).isNull()) {
        Result<QByteArray> refresh =
            m_box->open(query.value(1).toByteArray(), upstreamAad(grantId, "refresh"));
        if (!refresh.ok()) {
            return Error{refresh.error().code, grantId,
                         QStringLiteral("upstream refresh token: ") + refresh.error().message};
        }
        tokens.refreshToken = std::move(refresh).value();
    }
    tokens.accessExpiresAt = fromMs(query.value(2));
    return tokens;
}

Result<void> SqlTokenStore::saveUpstreamTokens(const QString &grantId, const UpstreamTokens &tokens)
{
    if (tokens.accessToken.isEmpty())
        return Error{ErrorCode::InvalidArgument, grantId,
                     QStringLiteral("the upstream access token is empty")};
    Result<const SecretBox *> sealer = box();
    if (!sealer.ok())
        return sealer.error();
    Result<QByteArray> access = sealer.value()->seal(tokens.accessToken, upstreamAad(grantId, "access"));
    if (!access.ok())
        return access.error();
    QVariant refresh; // NULL: keep the stored refresh token
    if (!tokens.refreshToken.isEmpty()) {
        Result<QByteArray> sealed =
            sealer.value()->seal(tokens.refreshToken, upstreamAad(grantId, "refresh"));
        if (!sealed.ok())
            return sealed.error();
        refresh = sealed.value();
    }

    Result<SqlTransaction> transaction = begin();
    if (!transaction.ok())
        return transaction.error();
    Result<int> saved = rowsChanged(
        run(QStringLiteral("UPDATE grants SET upstream_access = ?, "
                           "upstream_refresh = coalesce(?, upstream_refresh), upstream_expires_ms = ?, "
                           "upstream_updated_ms = ? WHERE grant_id = ? AND revoked_ms IS NULL"),
            {access.value(), refresh, toMs(tokens.accessExpiresAt), toMs(now()), grantId}));
    if (!saved.ok())
        return saved.error();
    if (saved.value() != 1) {
        Result<GrantRecord> grant = findGrant(grantId);
        return grant.ok() ? revokedGrant(grantId) : grant.error();
    }
    if (Result<void> r = transaction.value().commit(); !r.ok())
        return r;
    qCInfo(lcStore, "saved new upstream tokens for grant %s (access token expires %s)", qPrintable(grantId),
           qPrintable(tokens.accessExpiresAt.toString(Qt::ISODate)));
    return {};
}

Result<void> SqlTokenStore::revokeGrant(const QString &grantId)
{
    if (Result<void> r = changeOne(QStringLiteral("grant"), grantId,
                                   QStringLiteral("DELETE FROM grants WHERE grant_id = ?"), {grantId});
        !r.ok())
        return r;
    bearersRevoked(BearerRevocation{BearerRevocation::Kind::Grant, grantId});
    qCInfo(lcStore, "revoked grant %s with its tokens and codes", qPrintable(grantId));
    return {};
}

Result<UserRevocation> SqlTokenStore::revokeUser(const QString &userLogin)
{
    if (userLogin.isEmpty())
        return Error{ErrorCode::InvalidArgument, QStringLiteral("user"), QStringLiteral("no user named")};
    const QVariant current = toMs(now());
    Result<SqlTransaction> transaction = begin();
    if (!transaction.ok())
        return transaction.error();
    Result<QSqlQuery> live = run(QStringLiteral("SELECT g.grant_id, length(g.upstream_access) FROM grants g "
                                                "WHERE g.user_login = ? AND g.revoked_ms IS NULL "
                                                "ORDER BY g.created_ms") +
                                     lockRows(QStringLiteral("g")),
                                 {userLogin});
    if (!live.ok())
        return live.error();
    UserRevocation taken;
    while (live.value().next()) {
        taken.grantIds.append(live.value().value(0).toString());
        if (live.value().value(1).toLongLong() > 0)
            ++taken.upstreamTokens;
    }
    taken.grants = int(taken.grantIds.size());
    const SqlNamedValues user{{QStringLiteral(":user"), userLogin}, {QStringLiteral(":now"), current}};
    const QString ofUser =
        QStringLiteral("grant_id IN (SELECT grant_id FROM grants WHERE user_login = :user)");
    Result<QSqlQuery> working =
        runNamed(QStringLiteral("SELECT count(*) FROM tokens WHERE revoked = 0 AND rotated_ms IS NULL "
                                "AND expires_ms > :now AND ") +
                     ofUser,
                 user);
    if (!working.ok())
        return working.error();
    taken.brokerTokens = working.value().next() ? working.value().value(0).toInt() : 0;
    // Every statement below is needed even with no live grant: a grant that
    // an earlier replay retired may still have tokens or codes to close.
    const QString statements[] = {
        QStringLiteral("UPDATE tokens SET revoked = 1 WHERE revoked = 0 AND ") + ofUser,
        QStringLiteral("DELETE FROM auth_codes WHERE used_ms IS NULL AND ") + ofUser,
        QStringLiteral("DELETE FROM consents WHERE user_id IN "
                       "(SELECT user_id FROM grants WHERE user_login = :user)"),
        QStringLiteral("UPDATE grants SET revoked_ms = :now, upstream_access = ") + emptyBlob() +
            QStringLiteral(", upstream_refresh = NULL, upstream_expires_ms = NULL "
                           "WHERE user_login = :user AND revoked_ms IS NULL"),
    };
    for (const QString &sql : statements) {
        SqlNamedValues values;
        for (const auto &[name, value] : user) {
            if (sql.contains(name))
                values.append({name, value});
        }
        if (Result<QSqlQuery> r = runNamed(sql, values); !r.ok())
            return r.error();
    }
    if (Result<void> r = transaction.value().commit(); !r.ok())
        return r.error();
    bearersRevoked(BearerRevocation{BearerRevocation::Kind::User, userLogin});
    if (taken.grants > 0)
        afterRetire();
    qCInfo(lcStore, "revoked user %s: %d grants, %d broker tokens, %d upstream tokens wiped",
           qPrintable(userLogin), taken.grants, taken.brokerTokens, taken.upstreamTokens);
    return taken;
}

// --- authorization codes ---------------------------------------------------

Result<QByteArray> SqlTokenStore::createAuthCode(const AuthCodeRequest &request)
{
    if (!request.expiresAt.isValid())
        return Error{ErrorCode::InvalidArgument, request.grantId, QStringLiteral("the code has no expiry")};
    if (request.codeChallenge.isEmpty()) {
        return Error{ErrorCode::InvalidArgument, QStringLiteral("code_challenge"),
                     QStringLiteral("a code needs a PKCE challenge (OAuth 2.1 §7.5.2)")};
    }
    Result<GrantRecord> grant = findGrant(request.grantId);
    if (!grant.ok())
        return grant.error();
    if (grant.value().clientId != request.clientId) {
        return Error{ErrorCode::InvalidArgument, request.grantId,
                     QStringLiteral("grant belongs to client %1, not %2")
                         .arg(grant.value().clientId, request.clientId)};
    }
    const QByteArray code = generateOpaqueToken();
    if (Result<QSqlQuery> r =
            run(QStringLiteral(
                    "INSERT INTO auth_codes (code_hash, grant_id, client_id, redirect_uri, code_challenge, "
                    "code_challenge_method, resource, scope, created_ms, expires_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                {QString::fromLatin1(TokenHash::of(code).hex()), request.grantId, request.clientId,
                 request.redirectUri, request.codeChallenge, request.codeChallengeMethod, request.resource,
                 request.scope, toMs(now()), toMs(request.expiresAt)});
        !r.ok()) {
        return r.error();
    }
    return code;
}

Result<AuthCodeRecord> SqlTokenStore::consumeAuthCode(const TokenHash &codeHash)
{
    const QDateTime current = now();
    Result<SqlTransaction> transaction = begin();
    if (!transaction.ok())
        return transaction.error();
    AuthCodeRecord code;
    bool used = false;
    {
        Result<QSqlQuery> found =
            run(QStringLiteral(
                    "SELECT c.code_hash, c.grant_id, c.client_id, c.redirect_uri, c.code_challenge, "
                    "c.code_challenge_method, c.resource, c.scope, g.user_login, g.user_id, "
                    "c.created_ms, c.expires_ms, c.used_ms "
                    "FROM auth_codes c JOIN grants g ON g.grant_id = c.grant_id WHERE c.code_hash = ?") +
                    lockRows(QStringLiteral("c")),
                {QString::fromLatin1(codeHash.hex())});
        if (!found.ok())
            return found.error();
        QSqlQuery &query = found.value();
        if (!query.next())
            return badToken(codeHash, QStringLiteral("unknown authorization code"));
        code.codeHash = TokenHash::fromHex(query.value(0).toString().toLatin1());
        code.grantId = query.value(1).toString();
        code.clientId = query.value(2).toString();
        code.redirectUri = query.value(3).toString();
        code.codeChallenge = query.value(4).toString();
        code.codeChallengeMethod = query.value(5).toString();
        code.resource = query.value(6).toString();
        code.scope = query.value(7).toString();
        code.userLogin = query.value(8).toString();
        code.userId = query.value(9).toLongLong();
        code.created = fromMs(query.value(10));
        code.expiresAt = fromMs(query.value(11));
        used = !query.value(12).isNull();
    }
    if (used) {
        Result<int> revoked =
            commitRevocation(transaction.value(), revokeGrantTokens(code.grantId), code.grantId);
        if (!revoked.ok())
            return revoked.error();
        bearersRevoked(BearerRevocation{BearerRevocation::Kind::Grant, code.grantId});
        qCWarning(lcStore,
                  "authorization code %s of grant %s was presented again; revoked %d tokens of the grant",
                  qPrintable(codeHash.fingerprint()), qPrintable(code.grantId), revoked.value());
        return Error{ErrorCode::Conflict, code.grantId,
                     QStringLiteral("authorization code %1 was already used; the grant's tokens were revoked")
                         .arg(codeHash.fingerprint())};
    }
    if (current >= code.expiresAt)
        return badToken(codeHash, QStringLiteral("the authorization code expired"));
    Result<int> spent = rowsChanged(
        run(QStringLiteral("UPDATE auth_codes SET used_ms = ? WHERE code_hash = ? AND used_ms IS NULL"),
            {toMs(current), QString::fromLatin1(codeHash.hex())}));
    if (!spent.ok())
        return spent.error();
    if (spent.value() != 1)
        return Error{ErrorCode::Internal, codeHash.fingerprint(),
                     QStringLiteral("the code changed under us")};
    if (Result<void> r = transaction.value().commit(); !r.ok())
        return r.error();
    return code;
}

// --- broker tokens ---------------------------------------------------------

Result<IssuedTokens> SqlTokenStore::insertPair(const QString &grantId, const QString &familyId,
                                               const QString &scope, const QString &resource,
                                               const TokenRequest &request)
{
    IssuedTokens issued;
    issued.accessToken = generateOpaqueToken();
    issued.refreshToken = generateOpaqueToken();
    issued.accessExpiresAt = request.accessExpiresAt;
    issued.refreshExpiresAt = request.refreshExpiresAt;
    issued.grantId = grantId;
    issued.familyId = familyId;
    issued.scope = scope;
    issued.resource = resource;

    const QVariant created = toMs(now());
    const QString insert =
        QStringLiteral("INSERT INTO tokens (token_hash, kind, grant_id, family_id, scope, "
                       "resource, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (Result<QSqlQuery> r = run(insert, {QString::fromLatin1(TokenHash::of(issued.accessToken).hex()),
                                           static_cast<int>(TokenKind::Access), grantId, familyId, scope,
                                           resource, created, toMs(request.accessExpiresAt)});
        !r.ok()) {
        return r.error();
    }
    if (Result<QSqlQuery> r = run(insert, {QString::fromLatin1(TokenHash::of(issued.refreshToken).hex()),
                                           static_cast<int>(TokenKind::Refresh), grantId, familyId, scope,
                                           resource, created, toMs(request.refreshExpiresAt)});
        !r.ok()) {
        return r.error();
    }
    return issued;
}

Result<IssuedTokens> SqlTokenStore::issueTokenPair(const QString &grantId, const TokenRequest &request)
{
    if (!request.accessExpiresAt.isValid() || !request.refreshExpiresAt.isValid())
        return Error{ErrorCode::InvalidArgument, grantId,
                     QStringLiteral("a token pair needs both expiry times")};
    Result<SqlTransaction> transaction = begin();
    if (!transaction.ok())
        return transaction.error();
    Result<GrantRecord> grant = findGrant(grantId);
    if (!grant.ok())
        return grant.error();
    const QString scope = request.scope.isEmpty() ? grant.value().scope : request.scope;
    if (!scopeCovers(grant.value().scope, scope)) {
        return Error{
            ErrorCode::InvalidArgument, grantId,
            QStringLiteral("scope \"%1\" exceeds the granted scope \"%2\"").arg(scope, grant.value().scope)};
    }
    Result<IssuedTokens> issued = insertPair(grantId, generateRecordId(), scope, request.resource, request);
    if (!issued.ok())
        return issued;
    if (Result<void> r = transaction.value().commit(); !r.ok())
        return r.error();
    cacheIssued(issued.value(), grant.value().clientId, grant.value().userLogin, grant.value().userId);
    qCDebug(lcStore, "issued access token %s and refresh token %s for grant %s",
            qPrintable(TokenHash::of(issued.value().accessToken).fingerprint()),
            qPrintable(TokenHash::of(issued.value().refreshToken).fingerprint()), qPrintable(grantId));
    return issued;
}

void SqlTokenStore::cacheIssued(const IssuedTokens &issued, const QString &clientId, const QString &userLogin,
                                qint64 userId)
{
    TokenRecord record;
    record.hash = TokenHash::of(issued.accessToken);
    record.kind = TokenKind::Access;
    record.grantId = issued.grantId;
    record.familyId = issued.familyId;
    record.clientId = clientId;
    record.userLogin = userLogin;
    record.userId = userId;
    record.scope = issued.scope;
    record.resource = issued.resource;
    record.created = now();
    record.expiresAt = issued.accessExpiresAt;
    m_cache->confirm(record);
}

Result<TokenRecord> SqlTokenStore::selectToken(const TokenHash &hash, RowLock lock, bool *rotated) const
{
    Result<QSqlQuery> found =
        run(QStringLiteral(
                "SELECT t.kind, t.grant_id, t.family_id, g.client_id, g.user_login, g.user_id, t.scope, "
                "t.resource, t.created_ms, t.expires_ms, t.revoked, t.rotated_ms "
                "FROM tokens t JOIN grants g ON g.grant_id = t.grant_id WHERE t.token_hash = ?") +
                (lock == RowLock::ForUpdate ? lockRows(QStringLiteral("t")) : QString()),
            {QString::fromLatin1(hash.hex())});
    if (!found.ok())
        return found.error();
    QSqlQuery &query = found.value();
    if (!query.next())
        return badToken(hash, QStringLiteral("unknown token"));
    TokenRecord token;
    token.hash = hash;
    token.kind = query.value(0).toInt() == static_cast<int>(TokenKind::Refresh) ? TokenKind::Refresh
                                                                                : TokenKind::Access;
    token.grantId = query.value(1).toString();
    token.familyId = query.value(2).toString();
    token.clientId = query.value(3).toString();
    token.userLogin = query.value(4).toString();
    token.userId = query.value(5).toLongLong();
    token.scope = query.value(6).toString();
    token.resource = query.value(7).toString();
    token.created = fromMs(query.value(8));
    token.expiresAt = fromMs(query.value(9));
    // A rotated refresh token is spent: to everyone but replay detection it is revoked.
    token.revoked = query.value(10).toInt() != 0 || !query.value(11).isNull();
    if (rotated)
        *rotated = !query.value(11).isNull();
    return token;
}

std::optional<TokenRecord> SqlTokenStore::cachedAccessToken(const TokenHash &hash) const
{
    bool revalidate = false;
    std::optional<TokenRecord> cached = m_cache->fresh(hash, now(), m_revalidator ? &revalidate : nullptr);
    if (revalidate)
        m_revalidator(hash);
    return cached;
}

Result<TokenRecord> SqlTokenStore::findAccessToken(const TokenHash &hash) const
{
    if (std::optional<TokenRecord> cached = cachedAccessToken(hash))
        return *cached;
    const QDateTime current = now();
    Result<TokenRecord> token = lookupAccessToken(hash);
    if (token.ok()) {
        m_cache->confirm(token.value());
    } else if (token.error().code != ErrorCode::Unavailable) {
        m_cache->evict(hash);
    } else if (std::optional<TokenRecord> stale = m_cache->duringOutage(hash, current)) {
        qCDebug(lcStore, "accepted cached access token %s while the database is unreachable",
                qPrintable(hash.fingerprint()));
        return *stale;
    }
    return token;
}

void SqlTokenStore::revalidateAccessToken(const TokenHash &hash)
{
    Result<TokenRecord> token = lookupAccessToken(hash);
    if (token.ok())
        m_cache->confirm(token.value());
    else if (token.error().code != ErrorCode::Unavailable)
        m_cache->evict(hash); // revoked, expired or gone: the next check asks and refuses
}

Result<TokenRecord> SqlTokenStore::lookupAccessToken(const TokenHash &hash) const
{
    Result<TokenRecord> token = selectToken(hash, RowLock::None);
    if (!token.ok())
        return token;
    if (token.value().kind != TokenKind::Access)
        return badToken(hash, QStringLiteral("a refresh token is not an access token"));
    if (token.value().revoked)
        return badToken(hash, QStringLiteral("the access token was revoked"));
    if (now() >= token.value().expiresAt)
        return badToken(hash, QStringLiteral("the access token expired"));
    return token;
}

Result<IssuedTokens> SqlTokenStore::rotateRefreshToken(const TokenHash &refreshHash, const QString &clientId,
                                                       const TokenRequest &request)
{
    if (!request.accessExpiresAt.isValid() || !request.refreshExpiresAt.isValid()) {
        return Error{ErrorCode::InvalidArgument, refreshHash.fingerprint(),
                     QStringLiteral("a token pair needs both expiry times")};
    }
    const QDateTime current = now();
    Result<SqlTransaction> transaction = begin();
    if (!transaction.ok())
        return transaction.error();
    bool rotated = false;
    Result<TokenRecord> found = selectToken(refreshHash, RowLock::ForUpdate, &rotated);
    if (!found.ok())
        return found.error();
    const TokenRecord &old = found.value();
    if (old.kind != TokenKind::Refresh)
        return badToken(refreshHash, QStringLiteral("an access token is not a refresh token"));
    if (old.clientId != clientId)
        return badToken(refreshHash, QStringLiteral("the refresh token was issued to another client"));
    if (rotated) {
        Result<int> revoked = commitRevocation(transaction.value(), revokeFamily(old.familyId), old.grantId);
        if (!revoked.ok())
            return revoked.error();
        bearersRevoked(BearerRevocation{BearerRevocation::Kind::Family, old.familyId});
        qCWarning(lcStore,
                  "refresh token %s of grant %s was used again after rotation; revoked %d tokens of its "
                  "family",
                  qPrintable(refreshHash.fingerprint()), qPrintable(old.grantId), revoked.value());
        return Error{ErrorCode::Conflict, old.grantId,
                     QStringLiteral("refresh token %1 was already rotated; its token family was revoked")
                         .arg(refreshHash.fingerprint())};
    }
    if (old.revoked)
        return badToken(refreshHash, QStringLiteral("the refresh token was revoked"));
    if (current >= old.expiresAt)
        return badToken(refreshHash, QStringLiteral("the refresh token expired"));
    const QString scope = request.scope.isEmpty() ? old.scope : request.scope;
    if (!scopeCovers(old.scope, scope)) {
        return Error{
            ErrorCode::InvalidArgument, refreshHash.fingerprint(),
            QStringLiteral("scope \"%1\" exceeds the refresh token's scope \"%2\"").arg(scope, old.scope)};
    }
    if (!request.resource.isEmpty() && request.resource != old.resource) {
        return Error{ErrorCode::InvalidArgument, refreshHash.fingerprint(),
                     QStringLiteral("resource %1 differs from the refresh token's resource %2")
                         .arg(request.resource, old.resource)};
    }
    Result<int> spent = rowsChanged(
        run(QStringLiteral("UPDATE tokens SET rotated_ms = ? WHERE token_hash = ? AND rotated_ms IS NULL"),
            {toMs(current), QString::fromLatin1(refreshHash.hex())}));
    if (!spent.ok())
        return spent.error();
    if (spent.value() != 1) {
        return Error{ErrorCode::Internal, refreshHash.fingerprint(),
                     QStringLiteral("the refresh token changed under us")};
    }
    Result<IssuedTokens> issued = insertPair(old.grantId, old.familyId, scope, old.resource, request);
    if (!issued.ok())
        return issued;
    if (Result<void> r = transaction.value().commit(); !r.ok())
        return r.error();
    cacheIssued(issued.value(), old.clientId, old.userLogin, old.userId);
    qCInfo(lcStore, "rotated refresh token %s of grant %s into %s", qPrintable(refreshHash.fingerprint()),
           qPrintable(old.grantId), qPrintable(TokenHash::of(issued.value().refreshToken).fingerprint()));
    return issued;
}

Result<int> SqlTokenStore::revokeFamily(const QString &familyId)
{
    return rowsChanged(run(QStringLiteral("UPDATE tokens SET revoked = 1 WHERE family_id = ?"), {familyId}));
}

Result<int> SqlTokenStore::revokeGrantTokens(const QString &grantId)
{
    return rowsChanged(run(QStringLiteral("UPDATE tokens SET revoked = 1 WHERE grant_id = ?"), {grantId}));
}

Result<bool> SqlTokenStore::retireIfDead(const QString &grantId)
{
    // Issue 11: a grant nobody can use any more keeps nothing: its Forgejo
    // tokens would otherwise sit in the file and be refreshed with its
    // user's other grants. The row stays (revoked) until its revoked broker
    // tokens expire, so that a replay is still recognised as one.
    Result<int> retired = rowsChanged(
        runNamed(QStringLiteral("UPDATE grants SET revoked_ms = :now, upstream_access = ") + emptyBlob() +
                     QStringLiteral(
                         ", upstream_refresh = NULL, "
                         "upstream_expires_ms = NULL WHERE grant_id = :grant AND revoked_ms IS NULL "
                         "AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = grants.grant_id "
                         "AND t.kind = 2 AND t.revoked = 0 AND t.rotated_ms IS NULL AND t.expires_ms > :now) "
                         "AND NOT EXISTS (SELECT 1 FROM auth_codes c WHERE c.grant_id = grants.grant_id "
                         "AND c.used_ms IS NULL AND c.expires_ms > :now)"),
                 {{QStringLiteral(":now"), toMs(now())}, {QStringLiteral(":grant"), grantId}}));
    if (!retired.ok())
        return retired.error();
    if (retired.value() == 1)
        qCInfo(lcStore, "grant %s has no live token left; wiped its upstream tokens", qPrintable(grantId));
    return retired.value() == 1;
}

Result<int> SqlTokenStore::commitRevocation(SqlTransaction &transaction, Result<int> revoked,
                                            const QString &grantId)
{
    if (!revoked.ok())
        return revoked;
    Result<bool> retired = retireIfDead(grantId);
    if (!retired.ok())
        return retired.error();
    if (Result<void> r = transaction.commit(); !r.ok())
        return r.error();
    if (retired.value())
        afterRetire();
    return revoked;
}

Result<TokenRecord> SqlTokenStore::revokeToken(const TokenHash &hash, const QString &clientId)
{
    Result<SqlTransaction> transaction = begin();
    if (!transaction.ok())
        return transaction.error();
    Result<TokenRecord> token = selectToken(hash, RowLock::ForUpdate);
    if (!token.ok())
        return Error{ErrorCode::NotFound, hash.fingerprint(), QStringLiteral("unknown token")};
    if (token.value().clientId != clientId) {
        return Error{ErrorCode::Forbidden, hash.fingerprint(),
                     QStringLiteral("the token was issued to another client")};
    }
    bool retired = false;
    if (token.value().kind == TokenKind::Refresh) {
        if (Result<int> r = revokeFamily(token.value().familyId); !r.ok())
            return r.error();
        Result<bool> dead = retireIfDead(token.value().grantId);
        if (!dead.ok())
            return dead.error();
        retired = dead.value();
    } else if (Result<QSqlQuery> r = run(QStringLiteral("UPDATE tokens SET revoked = 1 WHERE token_hash = ?"),
                                         {QString::fromLatin1(hash.hex())});
               !r.ok()) {
        return r.error();
    }
    if (Result<void> r = transaction.value().commit(); !r.ok())
        return r.error();
    if (token.value().kind == TokenKind::Refresh)
        bearersRevoked(BearerRevocation{BearerRevocation::Kind::Family, token.value().familyId});
    else
        bearersRevoked(BearerRevocation{BearerRevocation::Kind::Token, QString::fromLatin1(hash.hex())});
    if (retired)
        afterRetire();
    qCInfo(lcStore, "revoked %s token %s of grant %s",
           token.value().kind == TokenKind::Refresh ? "refresh" : "access", qPrintable(hash.fingerprint()),
           qPrintable(token.value().grantId));
    return token.value();
}

// --- consent ---------------------------------------------------------------

Result<void> SqlTokenStore::recordConsent(qint64 userId, const QString &clientId, const QString &scope)
{
    Result<SqlTransaction> transaction = begin();
    if (!transaction.ok())
        return transaction.error();
    Result<bool> client = clientExists(clientId);
    if (!client.ok())
        return client.error();
    if (!client.value())
        return notFound(QStringLiteral("client"), clientId);
    if (Result<QSqlQuery> r =
            run(QStringLiteral("INSERT INTO consents (user_id, client_id, scope, created_ms) "
                               "VALUES (?, ?, ?, ?) ON CONFLICT (user_id, client_id) "
                               "DO UPDATE SET scope = excluded.scope, "
                               "created_ms = excluded.created_ms"),
                {userId, clientId, scope, toMs(now())});
        !r.ok()) {
        return r.error();
    }
    return transaction.value().commit();
}

Result<bool> SqlTokenStore::hasConsent(qint64 userId, const QString &clientId, const QString &scope) const
{
    Result<QSqlQuery> found = run(
        QStringLiteral("SELECT scope FROM consents WHERE user_id = ? AND client_id = ?"), {userId, clientId});
    if (!found.ok())
        return found.error();
    if (!found.value().next())
        return false;
    return scopeCovers(found.value().value(0).toString(), scope);
}

Result<void> SqlTokenStore::revokeConsent(qint64 userId, const QString &clientId)
{
    return changeOne(QStringLiteral("consent"), clientId,
                     QStringLiteral("DELETE FROM consents WHERE user_id = ? AND client_id = ?"),
                     {userId, clientId});
}

// --- housekeeping ----------------------------------------------------------

Result<PurgeCounts> SqlTokenStore::purgeExpired()
{
    const QVariant current = toMs(now());
    Result<SqlTransaction> transaction = begin();
    if (!transaction.ok())
        return transaction.error();
    Result<int> tokens =
        rowsChanged(run(QStringLiteral("DELETE FROM tokens WHERE expires_ms <= ?"), {current}));
    if (!tokens.ok())
        return tokens.error();
    Result<int> codes =
        rowsChanged(run(QStringLiteral("DELETE FROM auth_codes WHERE expires_ms <= ?"), {current}));
    if (!codes.ok())
        return codes.error();
    Result<int> grants =
        rowsChanged(run(QStringLiteral("DELETE FROM grants WHERE revoked_ms IS NOT NULL AND NOT EXISTS "
                                       "(SELECT 1 FROM tokens t WHERE t.grant_id = grants.grant_id)")));
    if (!grants.ok())
        return grants.error();
    if (Result<void> r = transaction.value().commit(); !r.ok())
        return r.error();
    const PurgeCounts counts{tokens.value(), codes.value(), grants.value()};
    qCDebug(lcStore, "purged %d expired tokens, %d expired codes and %d revoked grants", counts.tokens,
            counts.authCodes, counts.grants);
    return counts;
}

} // namespace fmb
