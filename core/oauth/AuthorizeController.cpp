#include "AuthorizeController.h"

#include <QDir>
#include <QUrl>

#include "ClientMetadata.h"
#include "ConsentPage.h"
#include "Logging.h"
#include "MetadataClients.h"
#include "Pkce.h"
#include "UpstreamClient.h"
#include "base/Metrics.h"
#include "store/StoreRunner.h"
#include "store/TokenHash.h"
#include "store/TokenStore.h"

namespace fmb {
namespace {

// Binds consent forms and upstream round trips to one browser (the MCP
// security best practices, "OAuth State Parameter Validation").
const QByteArray BrowserCookie = QByteArrayLiteral("__Host-fmb_browser");

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

// The browser's __Host-fmb_browser cookie, or a new one set through `headers`.
QByteArray browserOf(const QList<QByteArray> &cookies, Http::HeaderList *headers)
{
    QByteArray browser = Cookies::find(cookies, BrowserCookie);
    if (!isOpaqueToken(browser)) {
        browser = generateOpaqueToken();
        headers->emplaceBack("Set-Cookie", Cookies::hostCookie(BrowserCookie, browser, -1));
    }
    return browser;
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

QStringList splitScope(const QString &scope)
{
    return scope.split(QLatin1Char(' '), Qt::SkipEmptyParts);
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

} // namespace

AuthorizeController::AuthorizeController(const OAuthContext &context, UpstreamClient *upstream,
                                         MetadataClients *metadataClients, QObject *parent)
    : OAuthController(context, parent)
    , m_upstreamClient(upstream)
    , m_metadataClients(metadataClients)
{
    if (!config().stateDir.isEmpty()) {
        const QString keyPath = QDir(config().stateDir).filePath(LoginCookie::keyFileName());
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
}

QList<HttpRoute> AuthorizeController::routes()
{
    return {route(QStringLiteral("/oauth/authorize"), &AuthorizeController::handleAuthorize),
            route(QStringLiteral("/oauth/consent"), &AuthorizeController::handleConsent),
            route(QStringLiteral("/oauth/callback"), &AuthorizeController::handleCallback)};
}

void AuthorizeController::redirectError(const Exchange &exchange, const AuthRequest &auth,
                                        const QByteArray &error, const QString &description,
                                        Http::HeaderList headers) const
{
    OAuthHttp::redirectError(exchange.http, m_context.issuer(), auth, error, description, std::move(headers));
}

void AuthorizeController::refuseSignIn(const AuthRequest &auth, bool denied, const QString &reason,
                                       const QString &user)
{
    metrics::add(denied ? metrics::Counter::SignInsDenied : metrics::Counter::SignInsFailed);
    Q_EMIT audited({.kind = denied ? OAuthEvent::Kind::SignInDenied : OAuthEvent::Kind::SignInFailed,
                    .user = user,
                    .clientId = auth.clientId,
                    .clientName = auth.clientName,
                    .grantId = {},
                    .detail = reason});
}

QString AuthorizeController::grantedScope(const QString &requested) const
{
    // RFC 6749 §3.3: scopes the broker does not know are ignored, not refused
    // (Claude asks for "claudeai"); the token response names what was granted.
    QStringList granted;
    for (const QString &scope : splitScope(requested)) {
        if (config().scopes.contains(scope) && !granted.contains(scope))
            granted << scope;
    }
    if (granted.isEmpty())
        granted = config().scopes;
    // Never a null QString: SQLite would store NULL in a NOT NULL column.
    return granted.isEmpty() ? QStringLiteral("") : granted.join(QLatin1Char(' '));
}

void AuthorizeController::handleAuthorize(const QHttpServerRequest &request, const HttpExchange &http)
{
    if (!OAuthHttp::admitMethod(request, http, QHttpServerRequest::Method::Get, "GET",
                                OAuthHttp::Audience::Browser))
        return;
    const Exchange exchange{http, cookieHeaders(request)};
    const Form::Fields fields = Form::parse(request.url().query(QUrl::FullyEncoded).toLatin1());
    // Until client_id and redirect_uri are checked, errors stay on our page (RFC 6749 §4.1.2.1).
    const QString repeated = Form::repeatedParameter(fields, {QStringLiteral("resource")});
    if (!repeated.isEmpty()) {
        OAuthHttp::sendErrorPage(exchange.http, 400, QStringLiteral("Invalid authorization request"),
                                 QStringLiteral("The request repeats the parameter \"%1\".").arg(repeated));
        return;
    }
    const QString clientId = Form::value(fields, u"client_id");
    if (clientId.isEmpty()) {
        OAuthHttp::sendErrorPage(exchange.http, 400, QStringLiteral("Invalid authorization request"),
                                 QStringLiteral("The request has no client_id."));
        return;
    }
    if (isMetadataDocumentUrl(clientId, config().allowPrivateMetadataHosts)) {
        QPointer<AuthorizeController> self(this);
        m_metadataClients->resolve(clientId, [self, exchange, fields](Result<ClientRecord> client) {
            if (!self)
                return;
            if (!client) {
                OAuthHttp::sendErrorPage(
                    exchange.http, 400, QStringLiteral("Unknown client"),
                    QStringLiteral("The client's metadata document could not be used: %1")
                        .arg(client.error().message));
                return;
            }
            self->continueAuthorize(exchange, fields, client.value());
        });
        return;
    }
    m_context.stores().run<Result<ClientRecord>>(
        this, [clientId](TokenStore &store) { return OAuthContext::findClient(store, clientId); },
        [this, exchange, fields, clientId](const Result<ClientRecord> &client) {
            if (!client) {
                if (client.error().code == ErrorCode::NotFound) {
                    qCInfo(lcOAuth).noquote()
                        << "authorization request for unknown client" << clientId.left(100);
                    OAuthHttp::sendErrorPage(
                        exchange.http, 400, QStringLiteral("Unknown client"),
                        QStringLiteral("The client \"%1\" is not registered with this server. Let your MCP "
                                       "client register again.")
                            .arg(clientId.left(100)));
                } else if (client.error().code == ErrorCode::Unavailable) {
                    // Issue 14: the database is away; the sign-in works again once it is back.
                    OAuthHttp::sendErrorPage(
                        exchange.http, 503, QStringLiteral("Sign-in unavailable"),
                        QStringLiteral(
                            "The sign-in service cannot reach its database. Try again in a moment."),
                        {{"Retry-After", QByteArray::number(StoreRetryAfterSeconds)}});
                } else {
                    OAuthHttp::sendErrorPage(
                        exchange.http, 500, QStringLiteral("Server error"),
                        QStringLiteral("The client could not be looked up. Try again later."));
                }
                return;
            }
            continueAuthorize(exchange, fields, client.value());
        });
}

void AuthorizeController::continueAuthorize(const Exchange &exchange, const Form::Fields &fields,
                                            const ClientRecord &client)
{
    const QString redirectUri = Form::value(fields, u"redirect_uri");
    if (redirectUri.isEmpty()) {
        OAuthHttp::sendErrorPage(exchange.http, 400, QStringLiteral("Invalid authorization request"),
                                 QStringLiteral("The request has no redirect_uri."));
        return;
    }
    // Exact string match against the registered URIs (MCP security best
    // practices, "Redirect URI Validation"; OAuth 2.1 §4.1.1), but any port
    // on loopback (RFC 8252 §7.3, OAuth 2.1 §8.4.2).
    if (!redirectUriMatches(client.redirectUris, redirectUri)) {
        qCWarning(lcOAuth).noquote() << "authorization request for client" << client.clientId
                                     << "with an unregistered redirect_uri" << redirectUri.left(200);
        OAuthHttp::sendErrorPage(
            exchange.http, 400, QStringLiteral("Invalid redirect URI"),
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
    auth.resource = config().resource;

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
    if (Result<void, OAuthError> served = m_context.checkResource(Form::values(fields, u"resource"));
        !served) {
        redirectError(exchange, auth, served.error().error, served.error().description);
        return;
    }
    auth.scope = grantedScope(Form::value(fields, u"scope"));
    auth.codeChallenge = challengeValue;

    // A remembered user who approved this client already goes straight upstream.
    const QByteArray loginCookie = Cookies::find(exchange.cookies, LoginCookie::cookieName());
    if (loginCookie.isEmpty()) {
        showConsent(exchange, auth, {});
        return;
    }
    Result<LoginIdentity> identity = m_loginCookie->open(loginCookie, m_context.now());
    if (!identity) {
        qCDebug(lcOAuth).noquote() << "ignoring the login cookie:" << identity.error().message;
        showConsent(exchange, auth, {});
        return;
    }
    const LoginIdentity user = identity.value();
    m_context.stores().run<Result<bool>>(
        this,
        [user, clientId = auth.clientId, scope = auth.scope](TokenStore &store) {
            return store.hasConsent(user.userId, clientId, scope);
        },
        [this, exchange, auth, user](const Result<bool> &consented) {
            if (consented && consented.value()) {
                qCDebug(lcOAuth).noquote() << "user" << user.login << "approved client" << auth.clientId
                                           << "before; skipping the consent page";
                startUpstream(exchange, auth, false, user.userId);
                return;
            }
            showConsent(exchange, auth, user.login);
        });
}

void AuthorizeController::purgePending()
{
    const QDateTime current = m_context.now();
    for (auto it = m_consents.begin(); it != m_consents.end();)
        it = current >= it.value().expiresAt ? m_consents.erase(it) : std::next(it);
    for (auto it = m_upstreamPending.begin(); it != m_upstreamPending.end();)
        it = current >= it.value().expiresAt ? m_upstreamPending.erase(it) : std::next(it);
}

template <typename Flow>
std::optional<Flow> AuthorizeController::take(QHash<QString, Flow> &table, const QString &key)
{
    purgePending();
    auto node = table.find(key);
    if (node == table.end())
        return std::nullopt;
    Flow flow = std::move(node.value());
    table.erase(node);
    return flow;
}

void AuthorizeController::showConsent(const Exchange &exchange, const AuthRequest &auth,
                                      const QString &userLogin)
{
    purgePending();
    if (m_consents.size() >= config().maxPending) {
        qCWarning(lcOAuth) << m_consents.size() << "consent pages are open, the limit is"
                           << config().maxPending;
        OAuthHttp::sendErrorPage(
            exchange.http, 503, QStringLiteral("Too many sign-ins"),
            QStringLiteral("Too many sign-ins are in progress. Try again in a few minutes."));
        return;
    }
    Http::HeaderList headers;
    const QByteArray browser = browserOf(exchange.cookies, &headers);
    ConsentRequest consent;
    consent.auth = auth;
    consent.browser = browser;
    consent.csrfToken = generateOpaqueToken();
    consent.expiresAt = m_context.now().addSecs(config().pendingTtl.count());
    const QString requestId = generateRecordId();
    m_consents.insert(requestId, consent);

    ConsentView view;
    view.clientName = auth.clientName;
    view.clientId = auth.clientId;
    view.metadataDocument = auth.metadataDocument;
    view.redirectUri = auth.redirectUri;
    view.scopes = splitScope(auth.scope);
    view.userLogin = userLogin;
    view.upstreamName = config().upstreamName;
    view.upstreamHost = m_upstreamClient ? m_upstreamClient->config().authorizeUrl.host() : QString();
    view.formAction = m_context.endpoint("/oauth/consent");
    view.requestId = requestId;
    view.csrfToken = QString::fromLatin1(consent.csrfToken);
    OAuthHttp::sendPage(exchange.http, 200, renderConsentPage(view), headers);
}

void AuthorizeController::handleConsent(const QHttpServerRequest &request, const HttpExchange &http)
{
    if (!OAuthHttp::admitMethod(request, http, QHttpServerRequest::Method::Post, "POST",
                                OAuthHttp::Audience::Browser))
        return;
    const Exchange exchange{http, cookieHeaders(request)};
    if (OAuthHttp::checkBody(request, config().maxRequestBytes, "application/x-www-form-urlencoded") !=
        OAuthHttp::BodyFault::None) {
        OAuthHttp::sendErrorPage(
            exchange.http, 400, QStringLiteral("Invalid consent form"),
            QStringLiteral("The consent form must be posted as application/x-www-form-urlencoded."));
        return;
    }
    const Form::Fields fields = Form::parse(request.body());
    // One answer per page: the request leaves the table whatever happens next.
    const std::optional<ConsentRequest> taken = take(m_consents, Form::value(fields, u"request_id"));
    if (!taken) {
        OAuthHttp::sendErrorPage(
            exchange.http, 400, QStringLiteral("Consent request expired"),
            QStringLiteral("This consent request has expired or was answered already. Start the sign-in "
                           "again from your MCP client."));
        return;
    }
    const ConsentRequest &consent = *taken;

    const QByteArray browser = Cookies::find(exchange.cookies, BrowserCookie);
    if (browser.isEmpty()) {
        qCWarning(lcOAuth).noquote() << "consent form for client" << consent.auth.clientId
                                     << "came without its browser cookie; refused";
        OAuthHttp::sendErrorPage(
            exchange.http, 403, QStringLiteral("Consent refused"),
            QStringLiteral("The consent form arrived without the cookie it was issued with. Enable "
                           "cookies for this site and start again."));
        return;
    }
    if (!equalSecrets(browser, consent.browser) ||
        !equalSecrets(Form::value(fields, u"csrf_token").toLatin1(), consent.csrfToken)) {
        qCWarning(lcOAuth).noquote() << "consent form for client" << consent.auth.clientId
                                     << "failed the CSRF check; refused";
        OAuthHttp::sendErrorPage(
            exchange.http, 403, QStringLiteral("Consent refused"),
            QStringLiteral("The consent form does not belong to this browser (CSRF check failed). Start "
                           "the sign-in again from your MCP client."));
        return;
    }
    const QString decision = Form::value(fields, u"decision");
    if (decision == QLatin1String("deny")) {
        refuseSignIn(consent.auth, true, QStringLiteral("the user denied access on the consent page"));
        redirectError(exchange, consent.auth, "access_denied", QStringLiteral("the user denied access"));
        return;
    }
    if (decision != QLatin1String("approve")) {
        OAuthHttp::sendErrorPage(exchange.http, 400, QStringLiteral("Invalid consent form"),
                                 QStringLiteral("The decision must be approve or deny."));
        return;
    }
    qCInfo(lcOAuth).noquote() << "consent given to client" << consent.auth.clientId << "; sending the user to"
                              << config().upstreamName;
    startUpstream(exchange, consent.auth, true, 0);
}

void AuthorizeController::startUpstream(const Exchange &exchange, const AuthRequest &auth, bool consentShown,
                                        qint64 assumedUserId)
{
    purgePending();
    if (!m_upstreamClient) {
        OAuthHttp::sendErrorPage(exchange.http, 503, QStringLiteral("Sign-in unavailable"),
                                 QStringLiteral("The upstream sign-in is not configured."));
        return;
    }
    if (m_upstreamPending.size() >= config().maxPending) {
        qCWarning(lcOAuth) << m_upstreamPending.size() << "upstream sign-ins are pending, the limit is"
                           << config().maxPending;
        redirectError(exchange, auth, "temporarily_unavailable",
                      QStringLiteral("too many sign-ins in progress"));
        return;
    }
    Http::HeaderList headers;
    const QByteArray browser = browserOf(exchange.cookies, &headers);
    UpstreamPending pending;
    pending.auth = auth;
    pending.browser = browser;
    pending.verifier = Pkce::generateVerifier();
    pending.consentShown = consentShown;
    pending.assumedUserId = assumedUserId;
    pending.expiresAt = m_context.now().addSecs(config().pendingTtl.count());
    const QString state = QString::fromLatin1(generateOpaqueToken());
    const QUrl location =
        m_upstreamClient->authorizeUrl(state, Pkce::s256(QString::fromLatin1(pending.verifier)));
    m_upstreamPending.insert(state, pending);
    OAuthHttp::redirect(exchange.http, location.toString(QUrl::FullyEncoded), headers);
}

void AuthorizeController::handleCallback(const QHttpServerRequest &request, const HttpExchange &http)
{
    if (!OAuthHttp::admitMethod(request, http, QHttpServerRequest::Method::Get, "GET",
                                OAuthHttp::Audience::Browser))
        return;
    const Exchange exchange{http, cookieHeaders(request)};
    const Form::Fields fields = Form::parse(request.url().query(QUrl::FullyEncoded).toLatin1());
    // Single use: the state leaves the table on its first return.
    const std::optional<UpstreamPending> taken = take(m_upstreamPending, Form::value(fields, u"state"));
    if (!taken) {
        metrics::add(metrics::Counter::SignInsFailed);
        OAuthHttp::sendErrorPage(
            exchange.http, 400, QStringLiteral("Sign-in expired"),
            QStringLiteral("This sign-in is unknown, expired or was completed already. Start it again "
                           "from your MCP client."));
        return;
    }
    const UpstreamPending &pending = *taken;
    if (!equalSecrets(Cookies::find(exchange.cookies, BrowserCookie), pending.browser)) {
        qCWarning(lcOAuth).noquote() << "upstream callback for client" << pending.auth.clientId
                                     << "arrived in another browser than the one that started it; refused";
        refuseSignIn(pending.auth, false, QStringLiteral("the sign-in came back in another browser"));
        OAuthHttp::sendErrorPage(
            exchange.http, 400, QStringLiteral("Sign-in refused"),
            QStringLiteral("This sign-in was started in another browser. Start it again from your MCP "
                           "client."));
        return;
    }
    const QString upstreamError = Form::value(fields, u"error");
    if (!upstreamError.isNull()) {
        const QString code = cleanErrorCode(upstreamError);
        qCInfo(lcOAuth).noquote() << config().upstreamName << "answered the sign-in with" << code;
        refuseSignIn(pending.auth, code == QLatin1String("access_denied"),
                     QStringLiteral("%1 answered %2").arg(config().upstreamName, code));
        redirectError(exchange, pending.auth,
                      code == QLatin1String("access_denied") ? "access_denied" : "server_error",
                      QStringLiteral("%1 answered %2").arg(config().upstreamName, code));
        return;
    }
    const QString code = Form::value(fields, u"code");
    if (code.isEmpty() || !m_upstreamClient) {
        refuseSignIn(pending.auth, false,
                     QStringLiteral("%1 sent no authorization code").arg(config().upstreamName));
        redirectError(exchange, pending.auth, "server_error",
                      QStringLiteral("%1 sent no authorization code").arg(config().upstreamName));
        return;
    }
    QPointer<AuthorizeController> self(this);
    const QString upstreamName = config().upstreamName;
    m_upstreamClient->exchangeCode(
        code, QString::fromLatin1(pending.verifier),
        [self, exchange, pending, upstreamName](Result<UpstreamTokens> tokens) {
            if (!self)
                return;
            if (!tokens) {
                const QString reason = tokens.error().code == ErrorCode::Unavailable
                                           ? QStringLiteral("%1 could not be reached").arg(upstreamName)
                                           : QStringLiteral("%1 refused the sign-in").arg(upstreamName);
                self->refuseSignIn(pending.auth, false, reason);
                self->redirectError(exchange, pending.auth, "server_error", reason);
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
                        const QString reason =
                            QStringLiteral("%1 did not say who signed in").arg(upstreamName);
                        self->refuseSignIn(pending.auth, false, reason);
                        self->redirectError(exchange, pending.auth, "server_error", reason);
                        return;
                    }
                    self->finishCallback(exchange, pending, tokens, user.value());
                });
        });
}

void AuthorizeController::finishCallback(const Exchange &exchange, const UpstreamPending &pending,
                                         const UpstreamTokens &tokens, const UpstreamUser &user)
{
    const AuthRequest &auth = pending.auth;
    // The login cookie named someone else: the consent we relied on may not be this user's.
    const bool checkConsent = !pending.consentShown && user.id != pending.assumedUserId;
    GrantRecord grant;
    grant.userLogin = user.login;
    grant.userId = user.id;
    grant.clientId = auth.clientId;
    grant.scope = auth.scope;
    grant.upstreamAccessExpiresAt = tokens.accessExpiresAt;
    AuthCodeRequest codeRequest;
    codeRequest.clientId = auth.clientId;
    codeRequest.redirectUri = auth.redirectUri;
    codeRequest.codeChallenge = auth.codeChallenge;
    codeRequest.codeChallengeMethod = QStringLiteral("S256");
    codeRequest.resource = auth.resource;
    codeRequest.scope = auth.scope;
    codeRequest.expiresAt = m_context.now().addSecs(config().codeTtl.count());
    // The statements run on the store's thread (issue 14).
    m_context.stores().run<SignIn>(
        this,
        [checkConsent, grant, tokens, codeRequest](TokenStore &store) {
            return storeSignIn(store, checkConsent, grant, tokens, codeRequest);
        },
        [this, exchange, pending, user](const SignIn &signIn) {
            answerCallback(exchange, pending, user, signIn);
        });
}

AuthorizeController::SignIn AuthorizeController::storeSignIn(TokenStore &store, bool checkConsent,
                                                             const GrantRecord &grant,
                                                             const UpstreamTokens &tokens,
                                                             AuthCodeRequest codeRequest)
{
    SignIn signIn;
    if (checkConsent) {
        Result<bool> consented = store.hasConsent(grant.userId, grant.clientId, grant.scope);
        if (!consented || !consented.value()) {
            signIn.consentMissing = true;
            return signIn;
        }
    }
    signIn.grant = store.createGrant(grant, tokens);
    if (!signIn.grant) {
        qCWarning(lcOAuth).noquote() << "cannot store the grant of" << grant.userLogin << "for client"
                                     << grant.clientId << ":" << signIn.grant.error().message;
        return signIn;
    }
    if (Result<void> recorded = store.recordConsent(grant.userId, grant.clientId, grant.scope); !recorded) {
        qCWarning(lcOAuth).noquote() << "cannot record the consent of" << grant.userLogin << "for client"
                                     << grant.clientId << ":" << recorded.error().message;
    }
    codeRequest.grantId = signIn.grant.value().grantId;
    signIn.code = store.createAuthCode(codeRequest);
    if (!signIn.code) {
        qCWarning(lcOAuth).noquote() << "cannot create an authorization code for grant" << codeRequest.grantId
                                     << ":" << signIn.code.error().message;
    }
    return signIn;
}

void AuthorizeController::answerCallback(const Exchange &exchange, const UpstreamPending &pending,
                                         const UpstreamUser &user, const SignIn &signIn)
{
    const AuthRequest &auth = pending.auth;
    if (signIn.consentMissing) {
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
        OAuthHttp::redirect(exchange.http, Form::appendQuery(m_context.endpoint("/oauth/authorize"), again),
                            {{"Set-Cookie", Cookies::hostCookie(LoginCookie::cookieName(), "", 0)}});
        return;
    }
    const Error *failed = !signIn.grant  ? &signIn.grant.error()
                          : !signIn.code ? &signIn.code.error()
                                         : nullptr;
    if (failed) {
        refuseSignIn(auth, false,
                     !signIn.grant ? QStringLiteral("the grant could not be stored")
                                   : QStringLiteral("the authorization code could not be stored"),
                     user.login);
        redirectError(exchange, auth,
                      failed->code == ErrorCode::Unavailable ? "temporarily_unavailable" : "server_error",
                      QStringLiteral("the sign-in could not be stored"));
        return;
    }
    const Result<GrantRecord> &created = signIn.grant;
    const Result<QByteArray> &code = signIn.code;
    LoginIdentity identity;
    identity.userId = user.id;
    identity.login = user.login;
    identity.expiresAt = m_context.now().addSecs(config().loginTtl.count());
    const Http::HeaderList headers{
        {"Set-Cookie", Cookies::hostCookie(LoginCookie::cookieName(), m_loginCookie->seal(identity),
                                           config().loginTtl.count())}};
    qCInfo(lcOAuth).noquote() << "user" << user.login << "signed in for client" << auth.clientId << "; grant"
                              << created.value().grantId;
    metrics::add(metrics::Counter::SignInsSucceeded);
    if (pending.consentShown) { // given before the sign-in upstream, known to be this user's only now
        Q_EMIT audited({.kind = OAuthEvent::Kind::Consent,
                        .user = user.login,
                        .clientId = auth.clientId,
                        .clientName = auth.clientName,
                        .grantId = created.value().grantId,
                        .detail = auth.scope});
    }
    Q_EMIT grantCreated(created.value().grantId, user.login);
    Form::Fields result{{QStringLiteral("code"), QString::fromLatin1(code.value())}};
    if (!auth.state.isNull())
        result.append({QStringLiteral("state"), auth.state});
    result.append({QStringLiteral("iss"), m_context.issuer()});
    OAuthHttp::redirect(exchange.http, Form::appendQuery(auth.redirectUri, result), headers);
}

} // namespace fmb
