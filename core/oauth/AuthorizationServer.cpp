#include "AuthorizationServer.h"

#include <openssl/crypto.h>

#include <algorithm>

#include <QDir>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>
#include <QUrl>

#include "ClientMetadata.h"
#include "ConsentPage.h"
#include "Logging.h"
#include "MetadataFetcher.h"
#include "Pkce.h"
#include "UpstreamClient.h"
#include "base/Redactor.h"
#include "store/TokenHash.h"
#include "store/TokenStore.h"

namespace fmb {
namespace {

// Binds consent forms and upstream round trips to one browser (the MCP
// security best practices, "OAuth State Parameter Validation").
const QByteArray BrowserCookie = QByteArrayLiteral("__Host-fmb_browser");
// Most client addresses /oauth/register keeps a rate for at once.
constexpr int MaxRateLimitedPeers = 10000;

bool equalSecrets(QByteArrayView a, QByteArrayView b)
{
    return !a.isEmpty() && a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), size_t(a.size())) == 0;
}

// What generateOpaqueToken() makes: 43 characters of base64url.
bool isOpaqueToken(QByteArrayView value)
{
    if (value.size() != 43)
        return false;
    for (char c : value) {
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            return false;
    }
    return true;
}

// RFC 6750 §2.1 b64token.
bool isB64Token(QByteArrayView value)
{
    if (value.isEmpty() || value.size() > 4096)
        return false;
    qsizetype i = 0;
    for (; i < value.size(); ++i) {
        const char c = value[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_' || c == '~' || c == '+' || c == '/'))
            break;
    }
    if (i == 0)
        return false;
    for (; i < value.size(); ++i) {
        if (value[i] != '=')
            return false;
    }
    return true;
}

QList<QByteArray> cookieHeaders(const QHttpServerRequest &request)
{
    QList<QByteArray> out;
    const auto headers = request.headers();
    for (const auto &[name, value] : headers) {
        if (name.compare("cookie", Qt::CaseInsensitive) == 0)
            out.append(value);
    }
    return out;
}

// RFC 6749 §2.3.1: client_id and secret are form-encoded inside HTTP Basic.
QString formDecoded(QByteArray part)
{
    part.replace('+', ' ');
    return QUrl::fromPercentEncoding(part);
}

const QString AuthNone = QStringLiteral("none");
const QString AuthSecretPost = QStringLiteral("client_secret_post");
const QString AuthSecretBasic = QStringLiteral("client_secret_basic");

QStringList splitScope(const QString &scope)
{
    return scope.split(QLatin1Char(' '), Qt::SkipEmptyParts);
}

QJsonArray jsonArray(const QStringList &list)
{
    return QJsonArray::fromStringList(list);
}

// The JSON endpoints carry no cookies and no ambient authority, so any
// origin may call them (browser-based MCP clients do).
Http::HeaderList corsHeaders()
{
    return {{"Access-Control-Allow-Origin", "*"},
            {"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
            {"Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version"},
            {"Access-Control-Expose-Headers", "WWW-Authenticate"},
            {"Access-Control-Max-Age", "600"}};
}

// The consent and error pages: never framed (clickjacking), never cached,
// no scripts, and no Referer leaking the query to the client's site.
Http::HeaderList pageHeaders()
{
    return {{"Content-Type", "text/html; charset=utf-8"},
            {"Cache-Control", "no-store"},
            {"Pragma", "no-cache"},
            {"Content-Security-Policy",
             "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"},
            {"X-Frame-Options", "DENY"},
            {"X-Content-Type-Options", "nosniff"},
            {"Referrer-Policy", "no-referrer"}};
}

// A header parameter value (RFC 6750 §3: no '"' or '\').
QString quotedParameter(QString text)
{
    text.remove(QLatin1Char('"'));
    text.remove(QLatin1Char('\\'));
    return QLatin1Char('"') + text + QLatin1Char('"');
}

// Only [a-z_] survives from an upstream error code we pass on.
QString cleanErrorCode(const QString &code)
{
    QString out;
    for (QChar c : code.left(64)) {
        if ((c >= QLatin1Char('a') && c <= QLatin1Char('z')) || c == QLatin1Char('_'))
            out.append(c);
    }
    return out;
}

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

AuthorizationServer::AuthorizationServer(OAuthConfig config, TokenStore *store, UpstreamClient *upstream,
                                         QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_store(store)
    , m_upstreamClient(upstream)
    , m_purgeTimer(new QTimer(this))
    , m_registerLimiter(m_config.registerRatePerMinute, MaxRateLimitedPeers)
    , m_pendingClientTimer(new QTimer(this))
{
    while (m_config.publicUrl.endsWith(QLatin1Char('/')))
        m_config.publicUrl.chop(1);
    if (m_config.resource.isEmpty())
        m_config.resource = m_config.publicUrl + QStringLiteral("/mcp");

    MetadataFetchConfig fetch;
    fetch.timeout = m_config.metadataTimeout;
    fetch.maxBytes = m_config.maxMetadataBytes;
    fetch.allowPrivateHosts = m_config.allowPrivateMetadataHosts;
    m_fetcher = new MetadataFetcher(fetch, this);

    if (!m_config.stateDir.isEmpty()) {
        const QString keyPath = QDir(m_config.stateDir).filePath(LoginCookie::keyFileName());
        Result<LoginCookie> cookie = LoginCookie::fromKeyFile(keyPath);
        if (cookie) {
            m_loginCookie.emplace(std::move(cookie).value());
        } else {
            qCWarning(lcOAuth).noquote()
                << "cannot use the login cookie key" << keyPath << ":" << cookie.error().message
                << "; using a key in memory (users see the consent page again after "
                   "a restart)";
        }
    }
    if (!m_loginCookie)
        m_loginCookie.emplace(LoginCookie::ephemeral());

    if (m_config.purgeInterval.count() > 0) {
        m_purgeTimer->setInterval(m_config.purgeInterval);
        connect(m_purgeTimer, &QTimer::timeout, this, [this] {
            Result<PurgeCounts> purged = m_store->purgeExpired();
            if (!purged)
                qCWarning(lcOAuth).noquote() << "purging expired tokens failed:" << purged.error().message;
            purgePending();
        });
        m_purgeTimer->start();
    }

    // Registrations that never led to a sign-in go after pendingClientTtl:
    // now, then every tenth of it (at least every second, at most every 5 min).
    m_pendingClientTimer->setInterval(std::clamp<std::chrono::milliseconds>(
        m_config.pendingClientTtl / 10, std::chrono::seconds(1), std::chrono::minutes(5)));
    connect(m_pendingClientTimer, &QTimer::timeout, this, &AuthorizationServer::purgePendingClients);
    m_pendingClientTimer->start();
    if (m_store->isOpen())
        purgePendingClients();
}

void AuthorizationServer::purgePendingClients()
{
    Result<int> purged = m_store->purgePendingClients(now().addSecs(-m_config.pendingClientTtl.count()));
    if (!purged)
        qCWarning(lcOAuth).noquote() << "purging pending clients failed:" << purged.error().message;
    const QDateTime current = now();
    for (auto it = m_metadataFresh.begin(); it != m_metadataFresh.end();)
        it = current >= it.value() ? m_metadataFresh.erase(it) : std::next(it);
}

AuthorizationServer::~AuthorizationServer() = default;

QString AuthorizationServer::resourceMetadataUrl() const
{
    return m_config.publicUrl + QStringLiteral("/.well-known/oauth-protected-resource") +
           QUrl(m_config.resource).path(QUrl::FullyEncoded);
}

QString AuthorizationServer::endpoint(const char *path) const
{
    return m_config.publicUrl + QLatin1String(path);
}

QDateTime AuthorizationServer::now() const
{
    return QDateTime::currentDateTimeUtc();
}

HttpRoute AuthorizationServer::route(const QString &path, Handler handler)
{
    QPointer<AuthorizationServer> self(this);
    return {path, [self, handler](const QHttpServerRequest &request, const HttpExchange &exchange) {
                if (!self)
                    return false;
                (self.data()->*handler)(request, exchange);
                return true;
            }};
}

QList<HttpRoute> AuthorizationServer::routes()
{
    QList<HttpRoute> routes;
    const QString prm = QStringLiteral("/.well-known/oauth-protected-resource");
    const QString resourcePath = QUrl(m_config.resource).path(QUrl::FullyEncoded);
    routes.append(route(prm, &AuthorizationServer::handleProtectedResourceMetadata));
    // RFC 9728 §3.1: the well-known segment goes between host and path.
    if (!resourcePath.isEmpty() && resourcePath != QLatin1String("/"))
        routes.append(route(prm + resourcePath, &AuthorizationServer::handleProtectedResourceMetadata));

    const QStringList discovery{QStringLiteral("/.well-known/oauth-authorization-server"),
                                QStringLiteral("/.well-known/openid-configuration")};
    const QString issuerPath = QUrl(m_config.publicUrl).path(QUrl::FullyEncoded);
    for (const QString &wellKnown : discovery) {
        routes.append(route(wellKnown, &AuthorizationServer::handleServerMetadata));
        // RFC 8414 §3.1 path insertion, and OIDC's appended form, for an issuer with a path.
        if (!issuerPath.isEmpty() && issuerPath != QLatin1String("/"))
            routes.append(route(wellKnown + issuerPath, &AuthorizationServer::handleServerMetadata));
    }
    if (!issuerPath.isEmpty() && issuerPath != QLatin1String("/"))
        routes.append(route(issuerPath + QStringLiteral("/.well-known/openid-configuration"),
                            &AuthorizationServer::handleServerMetadata));

    routes.append(route(QStringLiteral("/oauth/register"), &AuthorizationServer::handleRegister));
    routes.append(route(QStringLiteral("/oauth/authorize"), &AuthorizationServer::handleAuthorize));
    routes.append(route(QStringLiteral("/oauth/consent"), &AuthorizationServer::handleConsent));
    routes.append(route(QStringLiteral("/oauth/callback"), &AuthorizationServer::handleCallback));
    routes.append(route(QStringLiteral("/oauth/token"), &AuthorizationServer::handleToken));
    routes.append(route(QStringLiteral("/oauth/revoke"), &AuthorizationServer::handleRevoke));
    qCInfo(lcOAuth).noquote() << "authorization server" << m_config.publicUrl << "for resource"
                              << m_config.resource;
    return routes;
}

// --- bearer guard ------------------------------------------------------------

QByteArray AuthorizationServer::challenge(const QString &error, const QString &description) const
{
    QStringList parts;
    if (!error.isEmpty()) {
        parts << QStringLiteral("error=") + quotedParameter(error);
        if (!description.isEmpty())
            parts << QStringLiteral("error_description=") + quotedParameter(description);
    }
    parts << QStringLiteral("resource_metadata=") + quotedParameter(resourceMetadataUrl());
    if (!m_config.scopes.isEmpty())
        parts << QStringLiteral("scope=") + quotedParameter(m_config.scopes.join(QLatin1Char(' ')));
    return (QStringLiteral("Bearer ") + parts.join(QStringLiteral(", "))).toUtf8();
}

Authenticator AuthorizationServer::bearerGuard() const
{
    QPointer<const AuthorizationServer> self(this);
    return [self](const QHttpServerRequest &request) -> Result<SessionOwner, AuthFailure> {
        if (!self) {
            return AuthFailure{
                ErrorCode::Unavailable,
                {},
                QStringLiteral("Service Unavailable: the authorization server is shutting down")};
        }
        return self->authenticate(request);
    };
}

Result<SessionOwner, AuthFailure> AuthorizationServer::authenticate(const QHttpServerRequest &request) const
{
    // OAuth 2.1 §5.1.2 / MCP: access tokens never in the URI.
    const Form::Fields query = Form::parse(request.url().query(QUrl::FullyEncoded).toLatin1());
    if (!Form::value(query, u"access_token").isNull()) {
        qCInfo(lcOAuth) << "refused an access token in the query string from"
                        << request.remoteAddress().toString();
        return AuthFailure{
            ErrorCode::InvalidArgument,
            challenge(QStringLiteral("invalid_request"),
                      QStringLiteral("access tokens are not accepted in the query string")),
            QStringLiteral("Bad Request: send the access token in the Authorization header, not in the "
                           "query string")};
    }
    const QByteArray header = request.value("authorization").trimmed();
    if (header.size() < 7 || header.first(7).compare("bearer ", Qt::CaseInsensitive) != 0) {
        return AuthFailure{ErrorCode::Unauthorized, challenge({}, {}),
                           QStringLiteral("Unauthorized: a bearer token is required")};
    }
    const QByteArray token = header.mid(7).trimmed();
    if (!isB64Token(token)) {
        return AuthFailure{
            ErrorCode::Unauthorized,
            challenge(QStringLiteral("invalid_token"), QStringLiteral("the bearer token is malformed")),
            QStringLiteral("Unauthorized: the bearer token is malformed")};
    }
    const TokenHash hash = TokenHash::of(token);
    Result<TokenRecord> record = m_store->findAccessToken(hash);
    if (!record) {
        if (record.error().code != ErrorCode::Unauthorized) {
            qCWarning(lcOAuth).noquote()
                << "cannot check access token" << hash.fingerprint() << ":" << record.error().message;
            return AuthFailure{
                ErrorCode::Unavailable, {}, QStringLiteral("Service Unavailable: the token store failed")};
        }
        qCDebug(lcOAuth).noquote() << "refused access token" << hash.fingerprint() << ":"
                                   << record.error().message;
        return AuthFailure{ErrorCode::Unauthorized,
                           challenge(QStringLiteral("invalid_token"), record.error().message),
                           QStringLiteral("Unauthorized: %1").arg(record.error().message)};
    }
    if (!sameResource(record.value().resource, m_config.resource)) {
        qCInfo(lcOAuth).noquote() << "refused access token" << hash.fingerprint() << "issued for resource"
                                  << record.value().resource;
        const QString why = QStringLiteral("the access token was issued for another resource");
        return AuthFailure{ErrorCode::Unauthorized, challenge(QStringLiteral("invalid_token"), why),
                           QStringLiteral("Unauthorized: %1").arg(why)};
    }
    return SessionOwner{record.value().userLogin, record.value().grantId};
}

// --- responses -----------------------------------------------------------------

void AuthorizationServer::send(const Exchange &exchange, int status, Http::HeaderList headers,
                               QByteArrayView body)
{
    exchange.http.answer(status, std::move(headers), body);
}

void AuthorizationServer::sendJson(const Exchange &exchange, int status, const QByteArray &json,
                                   Http::HeaderList headers) const
{
    Http::HeaderList all{{"Content-Type", "application/json"}};
    all.append(corsHeaders());
    all.append(headers);
    send(exchange, status, all, json);
}

void AuthorizationServer::sendOAuthError(const Exchange &exchange, const OAuthError &error) const
{
    QJsonObject body{{QStringLiteral("error"), QString::fromLatin1(error.error)}};
    if (!error.description.isEmpty())
        body.insert(QStringLiteral("error_description"), error.description);
    Http::HeaderList headers{{"Cache-Control", "no-store"}, {"Pragma", "no-cache"}};
    headers.append(error.headers);
    sendJson(exchange, error.status, QJsonDocument(body).toJson(QJsonDocument::Compact), headers);
}

void AuthorizationServer::sendPage(const Exchange &exchange, int status, const QByteArray &html,
                                   Http::HeaderList headers) const
{
    Http::HeaderList all = pageHeaders();
    all.append(headers);
    send(exchange, status, all, html);
}

void AuthorizationServer::sendErrorPage(const Exchange &exchange, int status, const QString &title,
                                        const QString &message) const
{
    sendPage(exchange, status, renderErrorPage(title, message));
}

void AuthorizationServer::redirect(const Exchange &exchange, const QString &location,
                                   Http::HeaderList headers) const
{
    exchange.http.redirect(location.toUtf8(), std::move(headers));
}

void AuthorizationServer::redirectError(const Exchange &exchange, const AuthRequest &auth,
                                        const QByteArray &error, const QString &description,
                                        Http::HeaderList headers) const
{
    Form::Fields fields{{QStringLiteral("error"), QString::fromLatin1(error)}};
    if (!description.isEmpty())
        fields.append({QStringLiteral("error_description"), description});
    if (!auth.state.isNull())
        fields.append({QStringLiteral("state"), auth.state});
    fields.append({QStringLiteral("iss"), issuer()}); // RFC 9207, error responses too
    qCInfo(lcOAuth).noquote() << "authorization for client" << auth.clientId << "ends with" << error << ":"
                              << description;
    redirect(exchange, Form::appendQuery(auth.redirectUri, fields), headers);
}

bool AuthorizationServer::methodAllowed(const QHttpServerRequest &request, const HttpExchange &http,
                                        QHttpServerRequest::Methods methods, const QByteArray &allow,
                                        bool cors) const
{
    const Exchange exchange{http, {}};
    if (cors && request.method() == QHttpServerRequest::Method::Options) {
        send(exchange, 204, corsHeaders(), {});
        return false;
    }
    if (methods.testFlag(request.method()))
        return true;
    Http::HeaderList headers{{"Allow", allow}};
    if (cors) {
        sendJson(
            exchange, 405,
            QJsonDocument(
                QJsonObject{{QStringLiteral("error"), QStringLiteral("invalid_request")},
                            {QStringLiteral("error_description"),
                             QStringLiteral("method not allowed; use %1").arg(QString::fromLatin1(allow))}})
                .toJson(QJsonDocument::Compact),
            headers);
    } else {
        Http::HeaderList all = pageHeaders();
        all.append(headers);
        send(exchange, 405, all,
             renderErrorPage(QStringLiteral("Method not allowed"),
                             QStringLiteral("Use %1 here.").arg(QString::fromLatin1(allow))));
    }
    return false;
}

// --- metadata --------------------------------------------------------------------

QByteArray AuthorizationServer::protectedResourceMetadata() const
{
    // RFC 9728 §2
    QJsonObject metadata{{QStringLiteral("resource"), m_config.resource},
                         {QStringLiteral("authorization_servers"), QJsonArray{issuer()}},
                         {QStringLiteral("bearer_methods_supported"), QJsonArray{QStringLiteral("header")}}};
    if (!m_config.scopes.isEmpty())
        metadata.insert(QStringLiteral("scopes_supported"), jsonArray(m_config.scopes));
    return QJsonDocument(metadata).toJson(QJsonDocument::Compact);
}

QByteArray AuthorizationServer::serverMetadata() const
{
    // RFC 8414 §2, RFC 9207 §3, the client ID metadata document draft §4.
    QJsonObject metadata{
        {QStringLiteral("issuer"), issuer()},
        {QStringLiteral("authorization_endpoint"), endpoint("/oauth/authorize")},
        {QStringLiteral("token_endpoint"), endpoint("/oauth/token")},
        {QStringLiteral("registration_endpoint"), endpoint("/oauth/register")},
        {QStringLiteral("revocation_endpoint"), endpoint("/oauth/revoke")},
        {QStringLiteral("response_types_supported"), QJsonArray{QStringLiteral("code")}},
        {QStringLiteral("response_modes_supported"), QJsonArray{QStringLiteral("query")}},
        {QStringLiteral("grant_types_supported"),
         QJsonArray{QStringLiteral("authorization_code"), QStringLiteral("refresh_token")}},
        // "none" first: Claude uses a metadata document only when "none" is offered.
        {QStringLiteral("token_endpoint_auth_methods_supported"),
         QJsonArray{AuthNone, AuthSecretPost, AuthSecretBasic}},
        {QStringLiteral("revocation_endpoint_auth_methods_supported"),
         QJsonArray{AuthNone, AuthSecretPost, AuthSecretBasic}},
        {QStringLiteral("code_challenge_methods_supported"), QJsonArray{QStringLiteral("S256")}},
        {QStringLiteral("client_id_metadata_document_supported"), true},
        {QStringLiteral("authorization_response_iss_parameter_supported"), true}};
    if (!m_config.scopes.isEmpty())
        metadata.insert(QStringLiteral("scopes_supported"), jsonArray(m_config.scopes));
    return QJsonDocument(metadata).toJson(QJsonDocument::Compact);
}

void AuthorizationServer::handleProtectedResourceMetadata(const QHttpServerRequest &request,
                                                          const HttpExchange &http)
{
    if (!methodAllowed(request, http, QHttpServerRequest::Method::Get, "GET, OPTIONS", true))
        return;
    const Exchange exchange{http, {}};
    sendJson(exchange, 200, protectedResourceMetadata(), {{"Cache-Control", "public, max-age=300"}});
}

void AuthorizationServer::handleServerMetadata(const QHttpServerRequest &request, const HttpExchange &http)
{
    if (!methodAllowed(request, http, QHttpServerRequest::Method::Get, "GET, OPTIONS", true))
        return;
    const Exchange exchange{http, {}};
    sendJson(exchange, 200, serverMetadata(), {{"Cache-Control", "public, max-age=300"}});
}

// --- registration (RFC 7591) --------------------------------------------------------

qint64 AuthorizationServer::pendingClientsFull() const
{
    if (m_config.maxPendingClients <= 0)
        return 0;
    Result<PendingClients> pending = m_store->pendingClients();
    if (!pending || pending.value().count < m_config.maxPendingClients)
        return 0;
    const QDateTime purgedAt = pending.value().oldest.addSecs(m_config.pendingClientTtl.count());
    return std::max<qint64>(1, (now().msecsTo(purgedAt) + 999) / 1000);
}

bool AuthorizationServer::admitRegistration(const QHttpServerRequest &request, const Exchange &exchange)
{
    // A flood is refused thousands of times a second: the log gets a sample and a count.
    const auto refuse = [this, &exchange](int status, const char *error, const QString &description,
                                          qint64 retryAfter = 0) {
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
        sendJson(exchange, status, QJsonDocument(body).toJson(QJsonDocument::Compact), headers);
        return false;
    };
    const QHostAddress peer = exchange.http.peerAddress();
    if (const qint64 waitMs = m_registerLimiter.take(peer); waitMs > 0) {
        return refuse(429, "slow_down",
                      QStringLiteral("more than %1 registrations a minute from %2; try again later")
                          .arg(m_config.registerRatePerMinute)
                          .arg(PeerRateLimiter::keyOf(peer)),
                      (waitMs + 999) / 1000);
    }
    const QByteArray body = request.body();
    if (body.size() > m_config.maxRegistrationBytes) {
        return refuse(413, "invalid_client_metadata",
                      QStringLiteral("the registration request is %1 bytes; the limit is %2")
                          .arg(body.size())
                          .arg(m_config.maxRegistrationBytes));
    }
    if (const QString tooLong =
            overlongString(QJsonDocument::fromJson(body).object(), ClientMetadataLimits().maxUriLength);
        !tooLong.isEmpty()) {
        return refuse(400, "invalid_client_metadata",
                      QStringLiteral("%1 is longer than %2 characters")
                          .arg(tooLong)
                          .arg(ClientMetadataLimits().maxUriLength));
    }
    if (const qint64 retryAfter = pendingClientsFull(); retryAfter > 0) {
        return refuse(503, "temporarily_unavailable",
                      QStringLiteral("%1 registered clients have not signed in yet, the most this server "
                                     "keeps; try again later")
                          .arg(m_config.maxPendingClients),
                      retryAfter);
    }
    return true;
}

void AuthorizationServer::handleRegister(const QHttpServerRequest &request, const HttpExchange &http)
{
    if (!methodAllowed(request, http, QHttpServerRequest::Method::Post, "POST, OPTIONS", true))
        return;
    const Exchange exchange{http, {}};
    if (!admitRegistration(request, exchange))
        return;
    const QByteArray body = request.body();
    if (body.size() > m_config.maxRequestBytes) {
        sendOAuthError(exchange, {413, "invalid_client_metadata",
                                  QStringLiteral("the registration request is %1 bytes; the limit is %2")
                                      .arg(body.size())
                                      .arg(m_config.maxRequestBytes)});
        return;
    }
    if (Http::mediaType(request.value("content-type")) != "application/json") {
        sendOAuthError(exchange, {400, "invalid_client_metadata",
                                  QStringLiteral("the registration request must be application/json")});
        return;
    }
    QJsonParseError parseError;
    const QJsonDocument json = QJsonDocument::fromJson(body, &parseError);
    if (parseError.error != QJsonParseError::NoError || !json.isObject()) {
        sendOAuthError(exchange, {400, "invalid_client_metadata",
                                  QStringLiteral("the registration request is not a JSON object")});
        return;
    }
    Result<ClientMetadata> metadata = parseRegistration(json.object());
    if (!metadata) {
        qCInfo(lcOAuth).noquote() << "refused a client registration:" << metadata.error().message;
        sendOAuthError(exchange, {400, metadata.error().subject.toLatin1(), metadata.error().message});
        return;
    }
    ClientRecord client;
    client.clientId = generateRecordId();
    client.clientName = metadata.value().clientName;
    client.redirectUris = metadata.value().redirectUris;
    client.kind = ClientKind::Dynamic;
    client.tokenEndpointAuthMethod = metadata.value().tokenEndpointAuthMethod;
    QByteArray secret; // RFC 7591 §3.2.1: shown once, kept only as its SHA-256
    if (client.tokenEndpointAuthMethod != AuthNone) {
        secret = generateOpaqueToken();
        client.secretHash = TokenHash::of(secret);
    }
    if (Result<void> stored = m_store->registerClient(client); !stored) {
        qCWarning(lcOAuth).noquote() << "cannot store a client registration:" << stored.error().message;
        sendOAuthError(exchange,
                       {500, "server_error", QStringLiteral("the registration could not be stored")});
        return;
    }
    QStringList hosts;
    for (const QString &uri : std::as_const(client.redirectUris))
        hosts << QUrl(uri).host();
    qCInfo(lcOAuth).noquote() << "registered client" << client.clientId << quotedParameter(client.clientName)
                              << "authenticating with" << client.tokenEndpointAuthMethod << "redirecting to"
                              << hosts.join(QStringLiteral(", "));
    QJsonObject answer{{QStringLiteral("client_id"), client.clientId},
                       {QStringLiteral("client_id_issued_at"), now().toSecsSinceEpoch()},
                       {QStringLiteral("redirect_uris"), jsonArray(client.redirectUris)},
                       {QStringLiteral("grant_types"), jsonArray(metadata.value().grantTypes)},
                       {QStringLiteral("response_types"), jsonArray(metadata.value().responseTypes)},
                       {QStringLiteral("token_endpoint_auth_method"), client.tokenEndpointAuthMethod}};
    if (!client.clientName.isEmpty())
        answer.insert(QStringLiteral("client_name"), client.clientName);
    if (!secret.isEmpty()) {
        answer.insert(QStringLiteral("client_secret"), QString::fromLatin1(secret));
        answer.insert(QStringLiteral("client_secret_expires_at"), 0); // never
    }
    sendJson(exchange, 201, QJsonDocument(answer).toJson(QJsonDocument::Compact),
             {{"Cache-Control", "no-store"}, {"Pragma", "no-cache"}});
}

// --- authorization endpoint ------------------------------------------------------------

QString AuthorizationServer::grantedScope(const QString &requested) const
{
    // RFC 6749 §3.3: scopes the broker does not know are ignored, not refused
    // (Claude asks for "claudeai"); the token response names what was granted.
    QStringList granted;
    for (const QString &scope : splitScope(requested)) {
        if (m_config.scopes.contains(scope) && !granted.contains(scope))
            granted << scope;
    }
    if (granted.isEmpty())
        granted = m_config.scopes;
    // Never a null QString: SQLite would store NULL in a NOT NULL column.
    return granted.isEmpty() ? QStringLiteral("") : granted.join(QLatin1Char(' '));
}

void AuthorizationServer::handleAuthorize(const QHttpServerRequest &request, const HttpExchange &http)
{
    if (!methodAllowed(request, http, QHttpServerRequest::Method::Get, "GET", false))
        return;
    const Exchange exchange{http, cookieHeaders(request)};
    const Form::Fields fields = Form::parse(request.url().query(QUrl::FullyEncoded).toLatin1());
    // Until client_id and redirect_uri are checked, errors stay on our page (RFC 6749 §4.1.2.1).
    const QString repeated = Form::repeatedParameter(fields, {QStringLiteral("resource")});
    if (!repeated.isEmpty()) {
        sendErrorPage(exchange, 400, QStringLiteral("Invalid authorization request"),
                      QStringLiteral("The request repeats the parameter \"%1\".").arg(repeated));
        return;
    }
    const QString clientId = Form::value(fields, u"client_id");
    if (clientId.isEmpty()) {
        sendErrorPage(exchange, 400, QStringLiteral("Invalid authorization request"),
                      QStringLiteral("The request has no client_id."));
        return;
    }
    if (isMetadataDocumentUrl(clientId, m_config.allowPrivateMetadataHosts)) {
        QPointer<AuthorizationServer> self(this);
        resolveMetadataClient(clientId, [self, exchange, fields](Result<ClientRecord> client) {
            if (!self)
                return;
            if (!client) {
                self->sendErrorPage(exchange, 400, QStringLiteral("Unknown client"),
                                    QStringLiteral("The client's metadata document could not be used: %1")
                                        .arg(client.error().message));
                return;
            }
            self->continueAuthorize(exchange, fields, client.value());
        });
        return;
    }
    Result<ClientRecord> client = m_store->findClient(clientId);
    if (!client) {
        if (client.error().code == ErrorCode::NotFound) {
            qCInfo(lcOAuth).noquote() << "authorization request for unknown client" << clientId.left(100);
            sendErrorPage(exchange, 400, QStringLiteral("Unknown client"),
                          QStringLiteral("The client \"%1\" is not registered with this server. Let your MCP "
                                         "client register again.")
                              .arg(clientId.left(100)));
        } else {
            qCWarning(lcOAuth).noquote()
                << "cannot look up client" << clientId.left(100) << ":" << client.error().message;
            sendErrorPage(exchange, 500, QStringLiteral("Server error"),
                          QStringLiteral("The client could not be looked up. Try again later."));
        }
        return;
    }
    continueAuthorize(exchange, fields, client.value());
}

void AuthorizationServer::resolveMetadataClient(const QString &clientId,
                                                std::function<void(Result<ClientRecord>)> done)
{
    Result<QUrl> url = checkMetadataDocumentUrl(clientId, m_config.allowPrivateMetadataHosts);
    if (!url) {
        done(url.error());
        return;
    }
    const auto fresh = m_metadataFresh.constFind(clientId);
    if (fresh != m_metadataFresh.constEnd() && now() < fresh.value()) {
        Result<ClientRecord> stored = m_store->findClient(clientId);
        if (stored && stored.value().kind == ClientKind::MetadataDocument) {
            done(stored);
            return;
        }
    }
    QPointer<AuthorizationServer> self(this);
    m_fetcher->fetch(url.value(), [self, clientId,
                                   done = std::move(done)](Result<MetadataDocument> document) {
        if (!self)
            return;
        if (!document) {
            qCInfo(lcOAuth).noquote()
                << "cannot fetch the client metadata document" << clientId << ":" << document.error().message;
            done(Error{document.error().code, clientId, document.error().message});
            return;
        }
        Result<ClientMetadata> metadata = parseMetadataDocument(document.value().body, clientId);
        if (!metadata) {
            qCInfo(lcOAuth).noquote()
                << "refused the client metadata document" << clientId << ":" << metadata.error().message;
            done(metadata.error());
            return;
        }
        ClientRecord client;
        client.clientId = clientId;
        client.clientName = metadata.value().clientName;
        client.redirectUris = metadata.value().redirectUris;
        client.kind = ClientKind::MetadataDocument;
        Result<ClientRecord> existing = self->m_store->findClient(clientId);
        if (!existing && self->pendingClientsFull() > 0) {
            qCWarning(lcOAuth).noquote()
                << "not keeping client" << clientId << ":" << self->m_config.maxPendingClients
                << "registered clients have not completed an authorization yet";
            done(Error{ErrorCode::Unavailable, clientId,
                       QStringLiteral("too many clients have not signed in yet; try again later")});
            return;
        }
        Result<void> saved =
            existing ? self->m_store->updateClient(client) : self->m_store->registerClient(client);
        if (!saved) {
            qCWarning(lcOAuth).noquote() << "cannot store client" << clientId << ":" << saved.error().message;
            done(saved.error());
            return;
        }
        if (self->m_metadataFresh.size() >= self->m_config.maxPending)
            self->m_metadataFresh.clear();
        const std::chrono::seconds lifetime =
            freshnessLifetime(document.value().cacheControl, document.value().expires, document.value().date,
                              self->now(), self->m_config.metadataCache);
        self->m_metadataFresh.insert(clientId, self->now().addSecs(lifetime.count()));
        qCInfo(lcOAuth).noquote() << "fetched the client metadata document" << clientId << "; fresh for"
                                  << lifetime.count() << "s";
        done(client);
    });
}

void AuthorizationServer::continueAuthorize(const Exchange &exchange, const Form::Fields &fields,
                                            const ClientRecord &client)
{
    const QString redirectUri = Form::value(fields, u"redirect_uri");
    if (redirectUri.isEmpty()) {
        sendErrorPage(exchange, 400, QStringLiteral("Invalid authorization request"),
                      QStringLiteral("The request has no redirect_uri."));
        return;
    }
    // Exact string match against the registered URIs (MCP security best
    // practices, "Redirect URI Validation"; OAuth 2.1 §4.1.1), but any port
    // on loopback (RFC 8252 §7.3, OAuth 2.1 §8.4.2).
    if (!redirectUriMatches(client.redirectUris, redirectUri)) {
        qCWarning(lcOAuth).noquote() << "authorization request for client" << client.clientId
                                     << "with an unregistered redirect_uri" << redirectUri.left(200);
        sendErrorPage(exchange, 400, QStringLiteral("Invalid redirect URI"),
                      QStringLiteral("The redirect_uri \"%1\" is not one that this client registered.")
                          .arg(redirectUri.left(200)));
        return;
    }
    AuthRequest auth;
    auth.clientId = client.clientId;
    auth.clientName = client.clientName;
    auth.metadataDocument = client.kind == ClientKind::MetadataDocument;
    auth.redirectUri = redirectUri;
    auth.state = Form::value(fields, u"state");
    auth.resource = m_config.resource;

    if (Form::value(fields, u"response_type") != QLatin1String("code")) {
        redirectError(exchange, auth, "unsupported_response_type",
                      QStringLiteral("only response_type=code is supported"));
        return;
    }
    const QString challengeValue = Form::value(fields, u"code_challenge");
    const QString method = Form::value(fields, u"code_challenge_method");
    if (challengeValue.isEmpty()) {
        redirectError(exchange, auth, "invalid_request",
                      QStringLiteral("code_challenge is required (PKCE with S256)"));
        return;
    }
    if (method != QLatin1String("S256")) {
        redirectError(
            exchange, auth, "invalid_request",
            method.isEmpty()
                ? QStringLiteral("code_challenge_method is required and must be S256")
                : QStringLiteral("code_challenge_method %1 is not supported; use S256").arg(method.left(20)));
        return;
    }
    if (!Pkce::isValidS256Challenge(challengeValue)) {
        redirectError(exchange, auth, "invalid_request",
                      QStringLiteral("code_challenge is not a base64url SHA-256 (43 characters)"));
        return;
    }
    const QStringList resources = Form::values(fields, u"resource");
    if (resources.size() > 1) {
        redirectError(exchange, auth, "invalid_target", QStringLiteral("only one resource may be requested"));
        return;
    }
    if (resources.size() == 1 && !sameResource(resources.first(), m_config.resource)) {
        redirectError(exchange, auth, "invalid_target",
                      QStringLiteral("resource %1 is not served here; this server issues tokens for %2")
                          .arg(resources.first().left(200), m_config.resource));
        return;
    }
    auth.scope = grantedScope(Form::value(fields, u"scope"));
    auth.codeChallenge = challengeValue;

    // A remembered user who approved this client already goes straight upstream.
    QString knownLogin;
    const QByteArray loginCookie = Cookies::find(exchange.cookies, LoginCookie::cookieName());
    if (!loginCookie.isEmpty()) {
        Result<LoginIdentity> identity = m_loginCookie->open(loginCookie, now());
        if (identity) {
            Result<bool> consented = m_store->hasConsent(identity.value().userId, auth.clientId, auth.scope);
            if (consented && consented.value()) {
                qCDebug(lcOAuth).noquote() << "user" << identity.value().login << "approved client"
                                           << auth.clientId << "before; skipping the consent page";
                startUpstream(exchange, auth, false, identity.value().userId);
                return;
            }
            knownLogin = identity.value().login;
        } else {
            qCDebug(lcOAuth).noquote() << "ignoring the login cookie:" << identity.error().message;
        }
    }
    showConsent(exchange, auth, knownLogin);
}

void AuthorizationServer::purgePending()
{
    const QDateTime current = now();
    for (auto it = m_consents.begin(); it != m_consents.end();)
        it = current >= it.value().expiresAt ? m_consents.erase(it) : std::next(it);
    for (auto it = m_upstreamPending.begin(); it != m_upstreamPending.end();)
        it = current >= it.value().expiresAt ? m_upstreamPending.erase(it) : std::next(it);
}

void AuthorizationServer::showConsent(const Exchange &exchange, const AuthRequest &auth,
                                      const QString &userLogin)
{
    purgePending();
    if (m_consents.size() >= m_config.maxPending) {
        qCWarning(lcOAuth) << m_consents.size() << "consent pages are open, the limit is"
                           << m_config.maxPending;
        sendErrorPage(exchange, 503, QStringLiteral("Too many sign-ins"),
                      QStringLiteral("Too many sign-ins are in progress. Try again in a few minutes."));
        return;
    }
    Http::HeaderList headers;
    QByteArray browser = Cookies::find(exchange.cookies, BrowserCookie);
    if (!isOpaqueToken(browser)) {
        browser = generateOpaqueToken();
        headers.emplaceBack("Set-Cookie", Cookies::hostCookie(BrowserCookie, browser, -1));
    }
    ConsentRequest consent;
    consent.auth = auth;
    consent.browser = browser;
    consent.csrfToken = generateOpaqueToken();
    consent.expiresAt = now().addSecs(m_config.pendingTtl.count());
    const QString requestId = generateRecordId();
    m_consents.insert(requestId, consent);

    ConsentView view;
    view.clientName = auth.clientName;
    view.clientId = auth.clientId;
    view.metadataDocument = auth.metadataDocument;
    view.redirectUri = auth.redirectUri;
    view.scopes = splitScope(auth.scope);
    view.userLogin = userLogin;
    view.upstreamName = m_config.upstreamName;
    view.upstreamHost = m_upstreamClient ? m_upstreamClient->config().authorizeUrl.host() : QString();
    view.formAction = endpoint("/oauth/consent");
    view.requestId = requestId;
    view.csrfToken = QString::fromLatin1(consent.csrfToken);
    sendPage(exchange, 200, renderConsentPage(view), headers);
}

void AuthorizationServer::handleConsent(const QHttpServerRequest &request, const HttpExchange &http)
{
    if (!methodAllowed(request, http, QHttpServerRequest::Method::Post, "POST", false))
        return;
    const Exchange exchange{http, cookieHeaders(request)};
    const QByteArray body = request.body();
    if (body.size() > m_config.maxRequestBytes ||
        Http::mediaType(request.value("content-type")) != "application/x-www-form-urlencoded") {
        sendErrorPage(
            exchange, 400, QStringLiteral("Invalid consent form"),
            QStringLiteral("The consent form must be posted as application/x-www-form-urlencoded."));
        return;
    }
    const Form::Fields fields = Form::parse(body);
    purgePending();
    // One answer per page: the request leaves the table whatever happens next.
    auto node = m_consents.find(Form::value(fields, u"request_id"));
    if (node == m_consents.end()) {
        sendErrorPage(
            exchange, 400, QStringLiteral("Consent request expired"),
            QStringLiteral("This consent request has expired or was answered already. Start the sign-in "
                           "again from your MCP client."));
        return;
    }
    const ConsentRequest consent = node.value();
    m_consents.erase(node);

    const QByteArray browser = Cookies::find(exchange.cookies, BrowserCookie);
    if (browser.isEmpty()) {
        qCWarning(lcOAuth).noquote() << "consent form for client" << consent.auth.clientId
                                     << "came without its browser cookie; refused";
        sendErrorPage(exchange, 403, QStringLiteral("Consent refused"),
                      QStringLiteral("The consent form arrived without the cookie it was issued with. Enable "
                                     "cookies for this site and start again."));
        return;
    }
    if (!equalSecrets(browser, consent.browser) ||
        !equalSecrets(Form::value(fields, u"csrf_token").toLatin1(), consent.csrfToken)) {
        qCWarning(lcOAuth).noquote() << "consent form for client" << consent.auth.clientId
                                     << "failed the CSRF check; refused";
        sendErrorPage(
            exchange, 403, QStringLiteral("Consent refused"),
            QStringLiteral("The consent form does not belong to this browser (CSRF check failed). Start "
                           "the sign-in again from your MCP client."));
        return;
    }
    const QString decision = Form::value(fields, u"decision");
    if (decision == QLatin1String("deny")) {
        redirectError(exchange, consent.auth, "access_denied", QStringLiteral("the user denied access"));
        return;
    }
    if (decision != QLatin1String("approve")) {
        sendErrorPage(exchange, 400, QStringLiteral("Invalid consent form"),
                      QStringLiteral("The decision must be approve or deny."));
        return;
    }
    qCInfo(lcOAuth).noquote() << "consent given to client" << consent.auth.clientId << "; sending the user to"
                              << m_config.upstreamName;
    startUpstream(exchange, consent.auth, true, 0);
}

void AuthorizationServer::startUpstream(const Exchange &exchange, const AuthRequest &auth, bool consentShown,
                                        qint64 assumedUserId)
{
    purgePending();
    if (!m_upstreamClient) {
        sendErrorPage(exchange, 503, QStringLiteral("Sign-in unavailable"),
                      QStringLiteral("The upstream sign-in is not configured."));
        return;
    }
    if (m_upstreamPending.size() >= m_config.maxPending) {
        qCWarning(lcOAuth) << m_upstreamPending.size() << "upstream sign-ins are pending, the limit is"
                           << m_config.maxPending;
        redirectError(exchange, auth, "temporarily_unavailable",
                      QStringLiteral("too many sign-ins in progress"));
        return;
    }
    Http::HeaderList headers;
    QByteArray browser = Cookies::find(exchange.cookies, BrowserCookie);
    if (!isOpaqueToken(browser)) {
        browser = generateOpaqueToken();
        headers.emplaceBack("Set-Cookie", Cookies::hostCookie(BrowserCookie, browser, -1));
    }
    UpstreamPending pending;
    pending.auth = auth;
    pending.browser = browser;
    pending.verifier = Pkce::generateVerifier();
    pending.consentShown = consentShown;
    pending.assumedUserId = assumedUserId;
    pending.expiresAt = now().addSecs(m_config.pendingTtl.count());
    const QString state = QString::fromLatin1(generateOpaqueToken());
    const QUrl location =
        m_upstreamClient->authorizeUrl(state, Pkce::s256(QString::fromLatin1(pending.verifier)));
    m_upstreamPending.insert(state, pending);
    redirect(exchange, location.toString(QUrl::FullyEncoded), headers);
}

// --- upstream callback ------------------------------------------------------------------

void AuthorizationServer::handleCallback(const QHttpServerRequest &request, const HttpExchange &http)
{
    if (!methodAllowed(request, http, QHttpServerRequest::Method::Get, "GET", false))
        return;
    const Exchange exchange{http, cookieHeaders(request)};
    const Form::Fields fields = Form::parse(request.url().query(QUrl::FullyEncoded).toLatin1());
    purgePending();
    // Single use: the state leaves the table on its first return.
    auto node = m_upstreamPending.find(Form::value(fields, u"state"));
    if (node == m_upstreamPending.end()) {
        sendErrorPage(
            exchange, 400, QStringLiteral("Sign-in expired"),
            QStringLiteral("This sign-in is unknown, expired or was completed already. Start it again "
                           "from your MCP client."));
        return;
    }
    const UpstreamPending pending = node.value();
    m_upstreamPending.erase(node);
    if (!equalSecrets(Cookies::find(exchange.cookies, BrowserCookie), pending.browser)) {
        qCWarning(lcOAuth).noquote() << "upstream callback for client" << pending.auth.clientId
                                     << "arrived in another browser than the one that started it; refused";
        sendErrorPage(
            exchange, 400, QStringLiteral("Sign-in refused"),
            QStringLiteral("This sign-in was started in another browser. Start it again from your MCP "
                           "client."));
        return;
    }
    const QString upstreamError = Form::value(fields, u"error");
    if (!upstreamError.isNull()) {
        const QString code = cleanErrorCode(upstreamError);
        qCInfo(lcOAuth).noquote() << m_config.upstreamName << "answered the sign-in with" << code;
        redirectError(exchange, pending.auth,
                      code == QLatin1String("access_denied") ? "access_denied" : "server_error",
                      QStringLiteral("%1 answered %2").arg(m_config.upstreamName, code));
        return;
    }
    const QString code = Form::value(fields, u"code");
    if (code.isEmpty() || !m_upstreamClient) {
        redirectError(exchange, pending.auth, "server_error",
                      QStringLiteral("%1 sent no authorization code").arg(m_config.upstreamName));
        return;
    }
    QPointer<AuthorizationServer> self(this);
    const QString upstreamName = m_config.upstreamName;
    m_upstreamClient->exchangeCode(
        code, QString::fromLatin1(pending.verifier),
        [self, exchange, pending, upstreamName](Result<UpstreamTokens> tokens) {
            if (!self)
                return;
            if (!tokens) {
                self->redirectError(exchange, pending.auth, "server_error",
                                    tokens.error().code == ErrorCode::Unavailable
                                        ? QStringLiteral("%1 could not be reached").arg(upstreamName)
                                        : QStringLiteral("%1 refused the sign-in").arg(upstreamName));
                return;
            }
            if (!self->m_upstreamClient)
                return;
            self->m_upstreamClient->fetchUser(
                tokens.value().accessToken,
                [self, exchange, pending, upstreamName, tokens = tokens.value()](Result<UpstreamUser> user) {
                    if (!self)
                        return;
                    if (!user) {
                        self->redirectError(exchange, pending.auth, "server_error",
                                            QStringLiteral("%1 did not say who signed in").arg(upstreamName));
                        return;
                    }
                    self->finishCallback(exchange, pending, tokens, user.value());
                });
        });
}

void AuthorizationServer::finishCallback(const Exchange &exchange, const UpstreamPending &pending,
                                         const UpstreamTokens &tokens, const UpstreamUser &user)
{
    const AuthRequest &auth = pending.auth;
    if (!pending.consentShown && user.id != pending.assumedUserId) {
        // The login cookie named someone else: the consent we relied on is not this user's.
        Result<bool> consented = m_store->hasConsent(user.id, auth.clientId, auth.scope);
        if (!consented || !consented.value()) {
            qCInfo(lcOAuth).noquote() << "signed in upstream as" << user.login
                                      << "instead of the remembered user; asking for consent";
            Form::Fields again{{QStringLiteral("response_type"), QStringLiteral("code")},
                               {QStringLiteral("client_id"), auth.clientId},
                               {QStringLiteral("redirect_uri"), auth.redirectUri},
                               {QStringLiteral("code_challenge"), auth.codeChallenge},
                               {QStringLiteral("code_challenge_method"), QStringLiteral("S256")},
                               {QStringLiteral("resource"), auth.resource}};
            if (!auth.scope.isEmpty())
                again.append({QStringLiteral("scope"), auth.scope});
            if (!auth.state.isNull())
                again.append({QStringLiteral("state"), auth.state});
            redirect(exchange, Form::appendQuery(endpoint("/oauth/authorize"), again),
                     {{"Set-Cookie", Cookies::hostCookie(LoginCookie::cookieName(), "", 0)}});
            return;
        }
    }
    GrantRecord grant;
    grant.userLogin = user.login;
    grant.userId = user.id;
    grant.clientId = auth.clientId;
    grant.scope = auth.scope;
    grant.upstreamAccessExpiresAt = tokens.accessExpiresAt;
    Result<GrantRecord> created = m_store->createGrant(grant, tokens);
    if (!created) {
        qCWarning(lcOAuth).noquote() << "cannot store the grant of" << user.login << "for client"
                                     << auth.clientId << ":" << created.error().message;
        redirectError(exchange, auth, "server_error", QStringLiteral("the sign-in could not be stored"));
        return;
    }
    if (Result<void> recorded = m_store->recordConsent(user.id, auth.clientId, auth.scope); !recorded) {
        qCWarning(lcOAuth).noquote() << "cannot record the consent of" << user.login << "for client"
                                     << auth.clientId << ":" << recorded.error().message;
    }
    AuthCodeRequest codeRequest;
    codeRequest.grantId = created.value().grantId;
    codeRequest.clientId = auth.clientId;
    codeRequest.redirectUri = auth.redirectUri;
    codeRequest.codeChallenge = auth.codeChallenge;
    codeRequest.codeChallengeMethod = QStringLiteral("S256");
    codeRequest.resource = auth.resource;
    codeRequest.scope = auth.scope;
    codeRequest.expiresAt = now().addSecs(m_config.codeTtl.count());
    Result<QByteArray> code = m_store->createAuthCode(codeRequest);
    if (!code) {
        qCWarning(lcOAuth).noquote() << "cannot create an authorization code for grant"
                                     << created.value().grantId << ":" << code.error().message;
        redirectError(exchange, auth, "server_error", QStringLiteral("the sign-in could not be stored"));
        return;
    }
    LoginIdentity identity;
    identity.userId = user.id;
    identity.login = user.login;
    identity.expiresAt = now().addSecs(m_config.loginTtl.count());
    const Http::HeaderList headers{
        {"Set-Cookie", Cookies::hostCookie(LoginCookie::cookieName(), m_loginCookie->seal(identity),
                                           m_config.loginTtl.count())}};
    qCInfo(lcOAuth).noquote() << "user" << user.login << "signed in for client" << auth.clientId << "; grant"
                              << created.value().grantId;
    Q_EMIT grantCreated(created.value().grantId, user.login);
    Form::Fields result{{QStringLiteral("code"), QString::fromLatin1(code.value())}};
    if (!auth.state.isNull())
        result.append({QStringLiteral("state"), auth.state});
    result.append({QStringLiteral("iss"), issuer()});
    redirect(exchange, Form::appendQuery(auth.redirectUri, result), headers);
}

// --- token endpoint --------------------------------------------------------------------

void AuthorizationServer::handleToken(const QHttpServerRequest &request, const HttpExchange &http)
{
    if (!methodAllowed(request, http, QHttpServerRequest::Method::Post, "POST, OPTIONS", true))
        return;
    const Exchange exchange{http, {}};
    const QByteArray body = request.body();
    if (body.size() > m_config.maxRequestBytes) {
        sendOAuthError(exchange, {413, "invalid_request",
                                  QStringLiteral("the token request is %1 bytes; the limit is %2")
                                      .arg(body.size())
                                      .arg(m_config.maxRequestBytes)});
        return;
    }
    if (Http::mediaType(request.value("content-type")) != "application/x-www-form-urlencoded") {
        sendOAuthError(exchange,
                       {400, "invalid_request",
                        QStringLiteral("the token request must be application/x-www-form-urlencoded")});
        return;
    }
    const Form::Fields fields = Form::parse(body);
    const QString repeated = Form::repeatedParameter(fields, {QStringLiteral("resource")});
    if (!repeated.isEmpty()) {
        sendOAuthError(exchange,
                       {400, "invalid_request", QStringLiteral("parameter %1 is repeated").arg(repeated)});
        return;
    }
    const QString grantType = Form::value(fields, u"grant_type");
    if (grantType.isEmpty()) {
        sendOAuthError(exchange, {400, "invalid_request", QStringLiteral("grant_type is required")});
        return;
    }
    if (grantType != QLatin1String("authorization_code") && grantType != QLatin1String("refresh_token")) {
        sendOAuthError(exchange, {400, "unsupported_grant_type",
                                  QStringLiteral("grant_type %1 is not supported (authorization_code, "
                                                 "refresh_token)")
                                      .arg(grantType.left(50))});
        return;
    }
    OAuthError error;
    Result<ClientRecord> client = authenticateClient(request, fields, &error);
    if (!client) {
        sendOAuthError(exchange, error);
        return;
    }
    const QStringList resources = Form::values(fields, u"resource");
    if (resources.size() > 1) {
        sendOAuthError(exchange,
                       {400, "invalid_target", QStringLiteral("only one resource may be requested")});
        return;
    }
    if (resources.size() == 1 && !sameResource(resources.first(), m_config.resource)) {
        sendOAuthError(exchange,
                       {400, "invalid_target",
                        QStringLiteral("resource %1 is not served here; this server issues tokens for %2")
                            .arg(resources.first().left(200), m_config.resource)});
        return;
    }
    Result<IssuedTokens> issued = grantType == QLatin1String("authorization_code")
                                      ? exchangeCode(fields, client.value(), &error)
                                      : refreshTokens(fields, client.value(), &error);
    if (!issued) {
        sendOAuthError(exchange, error);
        return;
    }
    const IssuedTokens &tokens = issued.value();
    QJsonObject answer{{QStringLiteral("access_token"), QString::fromLatin1(tokens.accessToken)},
                       {QStringLiteral("token_type"), QStringLiteral("Bearer")},
                       {QStringLiteral("expires_in"), qMax<qint64>(0, now().secsTo(tokens.accessExpiresAt))},
                       {QStringLiteral("refresh_token"), QString::fromLatin1(tokens.refreshToken)}};
    if (!tokens.scope.isEmpty())
        answer.insert(QStringLiteral("scope"), tokens.scope);
    sendJson(exchange, 200, QJsonDocument(answer).toJson(QJsonDocument::Compact),
             {{"Cache-Control", "no-store"}, {"Pragma", "no-cache"}});
}

Result<ClientRecord> AuthorizationServer::authenticateClient(const QHttpServerRequest &request,
                                                             const Form::Fields &fields,
                                                             OAuthError *error) const
{
    const QByteArray authorization = request.value("authorization").trimmed();
    const bool basic =
        authorization.size() > 6 && authorization.first(6).compare("basic ", Qt::CaseInsensitive) == 0;
    // RFC 6749 §5.2: after HTTP Basic, a 401 names the scheme the client used.
    const Http::HeaderList basicChallenge{
        {"WWW-Authenticate", QStringLiteral("Basic realm=%1").arg(quotedParameter(issuer())).toUtf8()}};
    auto fail = [error, basic, &basicChallenge](int status, const char *code, const QString &description) {
        *error = {status, code, description, basic && status == 401 ? basicChallenge : Http::HeaderList{}};
        return Error{ErrorCode::Unauthorized, QString::fromLatin1(code), description};
    };
    QString clientId = Form::value(fields, u"client_id");
    const QString postSecret = Form::value(fields, u"client_secret");
    QString secret = postSecret;
    if (basic) {
        const auto decoded = QByteArray::fromBase64Encoding(authorization.mid(6).trimmed(),
                                                            QByteArray::AbortOnBase64DecodingErrors);
        const qsizetype colon = decoded.decoded.indexOf(':');
        if (!decoded || colon <= 0)
            return fail(401, "invalid_client", QStringLiteral("the HTTP Basic credentials are malformed"));
        const QString basicId = formDecoded(decoded.decoded.left(colon));
        if (!postSecret.isEmpty())
            return fail(400, "invalid_request",
                        QStringLiteral("use one client authentication method, not HTTP Basic and "
                                       "client_secret"));
        if (!clientId.isEmpty() && clientId != basicId)
            return fail(400, "invalid_request",
                        QStringLiteral("client_id differs from the client in HTTP Basic"));
        clientId = basicId;
        secret = formDecoded(decoded.decoded.mid(colon + 1));
    }
    if (clientId.isEmpty())
        return fail(400, "invalid_request", QStringLiteral("client_id is required"));
    Result<ClientRecord> client = m_store->findClient(clientId);
    if (!client) {
        if (client.error().code == ErrorCode::NotFound)
            return fail(401, "invalid_client", QStringLiteral("unknown client_id"));
        qCWarning(lcOAuth).noquote() << "cannot look up client" << clientId.left(100) << ":"
                                     << client.error().message;
        return fail(500, "server_error", QStringLiteral("the client could not be looked up"));
    }
    const QString registered = client.value().tokenEndpointAuthMethod;
    const QString used = basic ? AuthSecretBasic : postSecret.isEmpty() ? AuthNone : AuthSecretPost;
    if (used != registered) {
        qCInfo(lcOAuth).noquote() << "client" << clientId << "registered for" << registered
                                  << "authenticated with" << used << "; refused";
        return fail(401, "invalid_client",
                    registered == AuthNone
                        ? QStringLiteral("this client is public (token_endpoint_auth_method none): send "
                                         "client_id and no client secret")
                        : QStringLiteral("this client must authenticate with %1").arg(registered));
    }
    if (registered != AuthNone &&
        !equalSecrets(TokenHash::of(secret.toUtf8()).hex(), client.value().secretHash.hex())) {
        qCInfo(lcOAuth).noquote() << "client" << clientId << "sent a wrong client secret; refused";
        return fail(401, "invalid_client", QStringLiteral("the client secret is wrong"));
    }
    return client;
}

Result<IssuedTokens> AuthorizationServer::exchangeCode(const Form::Fields &fields, const ClientRecord &client,
                                                       OAuthError *error)
{
    auto fail = [error](int status, const char *code, const QString &description) -> Error {
        *error = {status, code, description};
        return Error{ErrorCode::InvalidArgument, QString::fromLatin1(code), description};
    };
    const QString code = Form::value(fields, u"code");
    const QString redirectUri = Form::value(fields, u"redirect_uri");
    const QString verifier = Form::value(fields, u"code_verifier");
    if (code.isEmpty())
        return fail(400, "invalid_request", QStringLiteral("code is required"));
    if (redirectUri.isEmpty())
        return fail(400, "invalid_request", QStringLiteral("redirect_uri is required"));
    if (verifier.isEmpty())
        return fail(400, "invalid_request", QStringLiteral("code_verifier is required (PKCE)"));

    const TokenHash codeHash = TokenHash::of(code.toUtf8());
    Result<AuthCodeRecord> record = m_store->consumeAuthCode(codeHash);
    if (!record) {
        switch (record.error().code) {
        case ErrorCode::Conflict:
            // OAuth 2.1 §4.1.3: the store revoked what the code gave out.
            Q_EMIT grantTokensRevoked(record.error().subject, QStringLiteral("authorization code replayed"));
            return fail(400, "invalid_grant",
                        QStringLiteral(
                            "the authorization code was used already; the tokens issued for it are revoked"));
        case ErrorCode::Unauthorized:
            qCInfo(lcOAuth).noquote() << "refused authorization code" << codeHash.fingerprint() << "of client"
                                      << client.clientId << ":" << record.error().message;
            return fail(400, "invalid_grant", record.error().message);
        default:
            qCWarning(lcOAuth).noquote() << "cannot redeem authorization code" << codeHash.fingerprint()
                                         << ":" << record.error().message;
            return fail(500, "server_error", QStringLiteral("the code could not be redeemed"));
        }
    }
    const AuthCodeRecord &redeemed = record.value();
    QString refusal;
    if (redeemed.clientId != client.clientId)
        refusal = QStringLiteral("the authorization code was issued to another client");
    else if (redeemed.redirectUri != redirectUri)
        refusal = QStringLiteral("redirect_uri differs from the one in the authorization request");
    else if (redeemed.codeChallengeMethod != QLatin1String("S256") ||
             !Pkce::verifyS256(verifier, redeemed.codeChallenge))
        refusal = QStringLiteral("code_verifier does not match the code_challenge");
    if (!refusal.isEmpty()) {
        // The code is spent; nobody can use its grant now, so its upstream tokens go too.
        qCWarning(lcOAuth).noquote() << "refused authorization code" << codeHash.fingerprint() << "of grant"
                                     << redeemed.grantId << ":" << refusal << "; revoking the grant";
        if (Result<void> revoked = m_store->revokeGrant(redeemed.grantId); !revoked)
            qCWarning(lcOAuth).noquote()
                << "cannot revoke grant" << redeemed.grantId << ":" << revoked.error().message;
        return fail(400, "invalid_grant", refusal);
    }
    TokenRequest request;
    request.scope = redeemed.scope;
    request.resource = redeemed.resource;
    request.accessExpiresAt = now().addSecs(m_config.accessTokenTtl.count());
    request.refreshExpiresAt = now().addSecs(m_config.refreshTokenTtl.count());
    Result<IssuedTokens> issued = m_store->issueTokenPair(redeemed.grantId, request);
    if (!issued) {
        qCWarning(lcOAuth).noquote() << "cannot issue tokens for grant" << redeemed.grantId << ":"
                                     << issued.error().message;
        return fail(500, "server_error", QStringLiteral("the tokens could not be issued"));
    }
    qCInfo(lcOAuth).noquote() << "issued access token"
                              << TokenHash::of(issued.value().accessToken).fingerprint() << "for grant"
                              << redeemed.grantId << "of" << redeemed.userLogin << "to client"
                              << client.clientId;
    return issued;
}

Result<IssuedTokens> AuthorizationServer::refreshTokens(const Form::Fields &fields,
                                                        const ClientRecord &client, OAuthError *error)
{
    auto fail = [error](int status, const char *code, const QString &description) -> Error {
        *error = {status, code, description};
        return Error{ErrorCode::InvalidArgument, QString::fromLatin1(code), description};
    };
    const QString refreshToken = Form::value(fields, u"refresh_token");
    if (refreshToken.isEmpty())
        return fail(400, "invalid_request", QStringLiteral("refresh_token is required"));
    // Unknown scopes are ignored here too; none left: the old token's scope.
    QStringList scopes = splitScope(Form::value(fields, u"scope"));
    scopes.removeIf([this](const QString &scope) { return !m_config.scopes.contains(scope); });
    TokenRequest request;
    request.scope = scopes.join(QLatin1Char(' '));
    request.accessExpiresAt = now().addSecs(m_config.accessTokenTtl.count());
    request.refreshExpiresAt = now().addSecs(m_config.refreshTokenTtl.count());
    const TokenHash hash = TokenHash::of(refreshToken.toUtf8());
    Result<IssuedTokens> issued = m_store->rotateRefreshToken(hash, client.clientId, request);
    if (!issued) {
        switch (issued.error().code) {
        case ErrorCode::Conflict:
            // OAuth 2.1 §4.3.1: a rotated refresh token came back; the store revoked its family.
            Q_EMIT grantTokensRevoked(issued.error().subject, QStringLiteral("refresh token replayed"));
            return fail(400, "invalid_grant",
                        QStringLiteral("the refresh token was used already; its tokens are revoked"));
        case ErrorCode::Unauthorized:
            qCInfo(lcOAuth).noquote() << "refused refresh token" << hash.fingerprint() << "of client"
                                      << client.clientId << ":" << issued.error().message;
            return fail(400, "invalid_grant", issued.error().message);
        case ErrorCode::InvalidArgument:
            return fail(400, "invalid_scope", issued.error().message);
        default:
            qCWarning(lcOAuth).noquote()
                << "cannot rotate refresh token" << hash.fingerprint() << ":" << issued.error().message;
            return fail(500, "server_error", QStringLiteral("the refresh token could not be rotated"));
        }
    }
    return issued;
}

// --- revocation (RFC 7009) ----------------------------------------------------------------

void AuthorizationServer::handleRevoke(const QHttpServerRequest &request, const HttpExchange &http)
{
    if (!methodAllowed(request, http, QHttpServerRequest::Method::Post, "POST, OPTIONS", true))
        return;
    const Exchange exchange{http, {}};
    const QByteArray body = request.body();
    if (body.size() > m_config.maxRequestBytes ||
        Http::mediaType(request.value("content-type")) != "application/x-www-form-urlencoded") {
        sendOAuthError(exchange,
                       {400, "invalid_request",
                        QStringLiteral("the revocation request must be application/x-www-form-urlencoded "
                                       "and at most %1 bytes")
                            .arg(m_config.maxRequestBytes)});
        return;
    }
    const Form::Fields fields = Form::parse(body);
    const QString token = Form::value(fields, u"token");
    if (token.isEmpty()) {
        sendOAuthError(exchange, {400, "invalid_request", QStringLiteral("token is required")});
        return;
    }
    OAuthError error;
    Result<ClientRecord> client = authenticateClient(request, fields, &error);
    if (!client) {
        sendOAuthError(exchange, error);
        return;
    }
    const QString clientId = client.value().clientId;
    // The hint only speeds up a lookup (RFC 7009 §2.1); one lookup finds either kind.
    const TokenHash hash = TokenHash::of(token.toUtf8());
    Result<void> revoked = m_store->revokeToken(hash, clientId);
    if (!revoked) {
        switch (revoked.error().code) {
        case ErrorCode::NotFound:
            break; // RFC 7009 §2.2: an unknown token is not an error
        case ErrorCode::Forbidden:
            qCWarning(lcOAuth).noquote() << "client" << clientId << "tried to revoke token"
                                         << hash.fingerprint() << "of another client";
            sendOAuthError(exchange, {400, "unauthorized_client",
                                      QStringLiteral("the token was issued to another client")});
            return;
        default:
            qCWarning(lcOAuth).noquote()
                << "cannot revoke token" << hash.fingerprint() << ":" << revoked.error().message;
            sendOAuthError(exchange, {503, "temporarily_unavailable", QStringLiteral("try again later")});
            return;
        }
    }
    Http::HeaderList headers = corsHeaders();
    headers.emplaceBack("Cache-Control", "no-store");
    send(exchange, 200, headers, {});
}

} // namespace fmb
