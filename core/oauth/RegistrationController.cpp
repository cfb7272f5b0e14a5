#include "RegistrationController.h"

#include <algorithm>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>
#include <QUrl>

#include "ClientMetadata.h"
#include "Logging.h"
#include "OAuthHttp.h"
#include "base/Metrics.h"
#include "store/StoreRunner.h"
#include "store/TokenHash.h"
#include "store/TokenStore.h"

namespace fmb {
namespace {

// Most client addresses /oauth/register keeps a rate for at once.
constexpr int MaxRateLimitedPeers = 10000;

// The path ("client_uri", "contacts[3]") of the first key or string in
// `value` longer than `limit` characters; empty when there is none. Fields
// the broker ignores count too: they are read, and a flood of them is not free.
QString overlongString(const QJsonValue &value, qsizetype limit, const QString &path = {})
{
    if (value.isString())
        return value.toString().size() > limit ? path : QString();
    if (value.isArray()) {
        const QJsonArray array = value.toArray();
        for (qsizetype i = 0; i < array.size(); ++i) {
            const QString found =
                overlongString(array.at(i), limit, QStringLiteral("%1[%2]").arg(path).arg(i));
            if (!found.isEmpty())
                return found;
        }
        return {};
    }
    if (!value.isObject())
        return {};
    const QJsonObject object = value.toObject();
    for (auto it = object.begin(); it != object.end(); ++it) {
        const QString key = path.isEmpty() ? it.key() : path + QLatin1Char('.') + it.key();
        if (it.key().size() > limit)
            return QStringLiteral("a key");
        const QString found = overlongString(it.value(), limit, key.left(100));
        if (!found.isEmpty())
            return found;
    }
    return {};
}

} // namespace

RegistrationController::RegistrationController(const OAuthContext &context, QObject *parent)
    : OAuthController(context, parent)
    , m_limiter(context.config().registerRatePerMinute, MaxRateLimitedPeers)
    , m_purgeTimer(new QTimer(this))
{
    // Registrations that never led to a sign-in go after pendingClientTtl:
    // now, then every tenth of it (at least every second, at most every 5 min).
    m_purgeTimer->setInterval(std::clamp<std::chrono::milliseconds>(
        config().pendingClientTtl / 10, std::chrono::seconds(1), std::chrono::minutes(5)));
    connect(m_purgeTimer, &QTimer::timeout, this, &RegistrationController::purgePendingClients);
    m_purgeTimer->start();
    purgePendingClients();
}

QList<HttpRoute> RegistrationController::routes()
{
    return {route(QStringLiteral("/oauth/register"), &RegistrationController::handleRegister)};
}

void RegistrationController::purgePendingClients()
{
    const QDateTime before = m_context.now().addSecs(-config().pendingClientTtl.count());
    m_context.stores().run<Result<int>>(
        this,
        [before](TokenStore &store) -> Result<int> {
            // A store that is not open yet (or any more) has nothing to purge.
            return store.isOpen() ? store.purgePendingClients(before) : Result<int>(0);
        },
        [this](const Result<int> &purged) {
            if (!purged)
                qCWarning(lcOAuth).noquote() << "purging pending clients failed:" << purged.error().message;
            Q_EMIT pendingClientsPurged();
        });
}

bool RegistrationController::admitRegistration(const QHttpServerRequest &request,
                                               const HttpExchange &exchange)
{
    const auto refuse = [this, &exchange](int status, const char *error, const QString &description,
                                          qint64 retryAfter = 0) {
        refuseRegistration(exchange, status, error, description, retryAfter);
        return false;
    };
    const QHostAddress peer = exchange.peerAddress();
    if (const qint64 waitMs = m_limiter.take(peer); waitMs > 0) {
        metrics::add(metrics::Counter::RefusedRegistrations);
        return refuse(429, "slow_down",
                      QStringLiteral("more than %1 registrations a minute from %2; try again later")
                          .arg(config().registerRatePerMinute)
                          .arg(PeerRateLimiter::keyOf(peer)),
                      (waitMs + 999) / 1000);
    }
    const QByteArray body = request.body();
    if (body.size() > config().maxRegistrationBytes) {
        return refuse(413, "invalid_client_metadata",
                      QStringLiteral("the registration request is %1 bytes; the limit is %2")
                          .arg(body.size())
                          .arg(config().maxRegistrationBytes));
    }
    if (const QString tooLong =
            overlongString(QJsonDocument::fromJson(body).object(), ClientMetadataLimits().maxUriLength);
        !tooLong.isEmpty()) {
        return refuse(400, "invalid_client_metadata",
                      QStringLiteral("%1 is longer than %2 characters")
                          .arg(tooLong)
                          .arg(ClientMetadataLimits().maxUriLength));
    }
    return true;
}

void RegistrationController::refuseRegistration(const HttpExchange &exchange, int status, const char *error,
                                                const QString &description, qint64 retryAfter)
{
    // A flood is refused thousands of times a second: the log gets a sample and a count.
    if (m_refusalLog.take()) {
        const qint64 unlogged = m_refusalLog.takeSuppressed();
        const QString line =
            QStringLiteral("refused a client registration (%1 %2): %3%4")
                .arg(status)
                .arg(QLatin1String(error), description,
                     unlogged > 0 ? QStringLiteral("; %1 more not logged").arg(unlogged) : QString());
        // The cap is the whole server's: an operator should look. A rate or size refusal is one client's.
        if (status == 503)
            qCWarning(lcOAuth).noquote() << line;
        else
            qCInfo(lcOAuth).noquote() << line;
    }
    const QJsonObject body{{QStringLiteral("error"), QString::fromLatin1(error)},
                           {QStringLiteral("error_description"), description}};
    Http::HeaderList headers{{"Cache-Control", "no-store"}};
    if (retryAfter > 0)
        headers.emplaceBack("Retry-After", QByteArray::number(retryAfter));
    OAuthHttp::sendJson(exchange, status, QJsonDocument(body).toJson(QJsonDocument::Compact), headers);
}

void RegistrationController::handleRegister(const QHttpServerRequest &request, const HttpExchange &exchange)
{
    if (!OAuthHttp::admitMethod(request, exchange, QHttpServerRequest::Method::Post, "POST, OPTIONS",
                                OAuthHttp::Audience::Client) ||
        !admitRegistration(request, exchange))
        return;
    const QByteArray body = request.body();
    switch (OAuthHttp::checkBody(request, config().maxRequestBytes, "application/json")) {
    case OAuthHttp::BodyFault::TooLarge:
        OAuthHttp::sendOAuthError(exchange,
                                  {413, "invalid_client_metadata",
                                   QStringLiteral("the registration request is %1 bytes; the limit is %2")
                                       .arg(body.size())
                                       .arg(config().maxRequestBytes)});
        return;
    case OAuthHttp::BodyFault::WrongMediaType:
        OAuthHttp::sendOAuthError(exchange,
                                  {400, "invalid_client_metadata",
                                   QStringLiteral("the registration request must be application/json")});
        return;
    case OAuthHttp::BodyFault::None:
        break;
    }
    QJsonParseError parseError;
    const QJsonDocument json = QJsonDocument::fromJson(body, &parseError);
    if (parseError.error != QJsonParseError::NoError || !json.isObject()) {
        OAuthHttp::sendOAuthError(exchange,
                                  {400, "invalid_client_metadata",
                                   QStringLiteral("the registration request is not a JSON object")});
        return;
    }
    Result<ClientMetadata, OAuthError> metadata = parseRegistration(json.object());
    if (!metadata) {
        qCInfo(lcOAuth).noquote() << "refused a client registration:" << metadata.error().description;
        OAuthHttp::sendOAuthError(exchange, metadata.error());
        return;
    }
    ClientRecord client;
    client.clientId = generateRecordId();
    client.clientName = metadata.value().clientName;
    client.redirectUris = metadata.value().redirectUris;
    client.kind = ClientKind::Dynamic;
    client.tokenEndpointAuthMethod = metadata.value().tokenEndpointAuthMethod;
    QByteArray secret; // RFC 7591 §3.2.1: shown once, kept only as its SHA-256
    if (client.tokenEndpointAuthMethod != QLatin1String("none")) {
        secret = generateOpaqueToken();
        client.secretHash = TokenHash::of(secret);
    }
    // The cap check and the insert run on the store's thread (issue 14).
    struct Registered {
        qint64 fullRetryAfter = 0; // the pending-client cap is reached: Retry-After
        Result<void> stored;
    };
    m_context.stores().run<Registered>(
        this,
        [this, client](TokenStore &store) {
            Registered registered;
            registered.fullRetryAfter = m_context.pendingClientsFull(store);
            if (registered.fullRetryAfter == 0)
                registered.stored = store.registerClient(client);
            return registered;
        },
        [this, exchange, client, secret, metadata = metadata.value()](Registered registered) {
            if (registered.fullRetryAfter > 0) {
                refuseRegistration(exchange, 503, "temporarily_unavailable",
                                   QStringLiteral("%1 registered clients have not signed in yet, the most "
                                                  "this server keeps; try again later")
                                       .arg(config().maxPendingClients),
                                   registered.fullRetryAfter);
                return;
            }
            if (!registered.stored) {
                qCWarning(lcOAuth).noquote()
                    << "cannot store a client registration:" << registered.stored.error().message;
                OAuthHttp::sendOAuthError(
                    exchange, storeFailure(registered.stored.error(),
                                           QStringLiteral("the registration could not be stored")));
                return;
            }
            answerRegistration(exchange, client, secret, metadata);
        });
}

void RegistrationController::answerRegistration(const HttpExchange &exchange, const ClientRecord &client,
                                                const QByteArray &secret, const ClientMetadata &metadata)
{
    QStringList hosts;
    for (const QString &uri : std::as_const(client.redirectUris))
        hosts << QUrl(uri).host();
    qCInfo(lcOAuth).noquote() << "registered client" << client.clientId
                              << OAuthHttp::quotedParameter(client.clientName) << "authenticating with"
                              << client.tokenEndpointAuthMethod << "redirecting to"
                              << hosts.join(QStringLiteral(", "));
    QJsonObject answer{{QStringLiteral("client_id"), client.clientId},
                       {QStringLiteral("client_id_issued_at"), m_context.now().toSecsSinceEpoch()},
                       {QStringLiteral("redirect_uris"), QJsonArray::fromStringList(client.redirectUris)},
                       {QStringLiteral("grant_types"), QJsonArray::fromStringList(metadata.grantTypes)},
                       {QStringLiteral("response_types"), QJsonArray::fromStringList(metadata.responseTypes)},
                       {QStringLiteral("token_endpoint_auth_method"), client.tokenEndpointAuthMethod}};
    if (!client.clientName.isEmpty())
        answer.insert(QStringLiteral("client_name"), client.clientName);
    if (!secret.isEmpty()) {
        answer.insert(QStringLiteral("client_secret"), QString::fromLatin1(secret));
        answer.insert(QStringLiteral("client_secret_expires_at"), 0); // never
    }
    OAuthHttp::sendJson(exchange, 201, QJsonDocument(answer).toJson(QJsonDocument::Compact),
                        {{"Cache-Control", "no-store"}, {"Pragma", "no-cache"}});
}

} // namespace fmb
