#include "TokenController.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QUrl>

#include "Logging.h"
#include "OAuthHttp.h"
#include "Pkce.h"
#include "store/StoreRunner.h"
#include "store/TokenHash.h"
#include "store/TokenStore.h"

namespace fmb {
namespace {

const QByteArray FormMediaType = QByteArrayLiteral("application/x-www-form-urlencoded");
const QString AuthNone = QStringLiteral("none");
const QString AuthSecretPost = QStringLiteral("client_secret_post");
const QString AuthSecretBasic = QStringLiteral("client_secret_basic");

// RFC 6749 §2.3.1: client_id and secret are form-encoded inside HTTP Basic.
QString formDecoded(QByteArray part)
{
    part.replace('+', ' ');
    return QUrl::fromPercentEncoding(part);
}

} // namespace

TokenController::TokenController(const OAuthContext &context, QObject *parent)
    : OAuthController(context, parent)
{}

QList<HttpRoute> TokenController::routes()
{
    return {route(QStringLiteral("/oauth/token"), &TokenController::handleToken),
            route(QStringLiteral("/oauth/revoke"), &TokenController::handleRevoke)};
}

void TokenController::handleToken(const QHttpServerRequest &request, const HttpExchange &exchange)
{
    if (!OAuthHttp::admitMethod(request, exchange, QHttpServerRequest::Method::Post, "POST, OPTIONS",
                                OAuthHttp::Audience::Client))
        return;
    switch (OAuthHttp::checkBody(request, config().maxRequestBytes, FormMediaType)) {
    case OAuthHttp::BodyFault::TooLarge:
        OAuthHttp::sendOAuthError(exchange, {413, "invalid_request",
                                             QStringLiteral("the token request is %1 bytes; the limit is %2")
                                                 .arg(request.body().size())
                                                 .arg(config().maxRequestBytes)});
        return;
    case OAuthHttp::BodyFault::WrongMediaType:
        OAuthHttp::sendOAuthError(
            exchange, {400, "invalid_request",
                       QStringLiteral("the token request must be application/x-www-form-urlencoded")});
        return;
    case OAuthHttp::BodyFault::None:
        break;
    }
    const Form::Fields fields = Form::parse(request.body());
    const QString repeated = Form::repeatedParameter(fields, {QStringLiteral("resource")});
    if (!repeated.isEmpty()) {
        OAuthHttp::sendOAuthError(
            exchange, {400, "invalid_request", QStringLiteral("parameter %1 is repeated").arg(repeated)});
        return;
    }
    const QString grantType = Form::value(fields, u"grant_type");
    if (grantType.isEmpty()) {
        OAuthHttp::sendOAuthError(exchange,
                                  {400, "invalid_request", QStringLiteral("grant_type is required")});
        return;
    }
    if (grantType != QLatin1String("authorization_code") && grantType != QLatin1String("refresh_token")) {
        OAuthHttp::sendOAuthError(exchange,
                                  {400, "unsupported_grant_type",
                                   QStringLiteral("grant_type %1 is not supported (authorization_code, "
                                                  "refresh_token)")
                                       .arg(grantType.left(50))});
        return;
    }
    // The statements run on the store's thread (issue 14); the answer is written back here.
    const Result<void, OAuthError> served = m_context.checkResource(Form::values(fields, u"resource"));
    const QByteArray authorization = request.value("authorization").trimmed();
    const bool byCode = grantType == QLatin1String("authorization_code");
    m_context.stores().run<Outcome<IssuedTokens>>(
        this,
        [this, authorization, fields, byCode, served](TokenStore &store) {
            Outcome<IssuedTokens> outcome;
            Result<ClientRecord, OAuthError> client = authenticateClient(store, authorization, fields);
            if (!client)
                outcome.result = client.error();
            else if (!served)
                outcome.result = served.error();
            else if (byCode)
                outcome.result = exchangeCode(store, fields, client.value(), outcome);
            else
                outcome.result = refreshTokens(store, fields, client.value(), outcome);
            return outcome;
        },
        [this, exchange](Outcome<IssuedTokens> outcome) {
            publish(outcome);
            answerTokens(exchange, outcome.result);
        });
}

void TokenController::answerTokens(const HttpExchange &exchange,
                                   const Result<IssuedTokens, OAuthError> &issued)
{
    if (!issued) {
        OAuthHttp::sendOAuthError(exchange, issued.error());
        return;
    }
    const IssuedTokens &tokens = issued.value();
    QJsonObject answer{
        {QStringLiteral("access_token"), QString::fromLatin1(tokens.accessToken)},
        {QStringLiteral("token_type"), QStringLiteral("Bearer")},
        {QStringLiteral("expires_in"), qMax<qint64>(0, m_context.now().secsTo(tokens.accessExpiresAt))},
        {QStringLiteral("refresh_token"), QString::fromLatin1(tokens.refreshToken)}};
    if (!tokens.scope.isEmpty())
        answer.insert(QStringLiteral("scope"), tokens.scope);
    OAuthHttp::sendJson(exchange, 200, QJsonDocument(answer).toJson(QJsonDocument::Compact),
                        {{"Cache-Control", "no-store"}, {"Pragma", "no-cache"}});
}

void TokenController::publish(const Effects &effects)
{
    if (!effects.revokedGrantId.isEmpty())
        Q_EMIT grantTokensRevoked(effects.revokedGrantId, effects.revokedReason);
    if (effects.audit)
        Q_EMIT audited(*effects.audit);
}

Result<ClientRecord, OAuthError> TokenController::authenticateClient(TokenStore &store,
                                                                     const QByteArray &authorization,
                                                                     const Form::Fields &fields) const
{
    const bool basic =
        authorization.size() > 6 && authorization.first(6).compare("basic ", Qt::CaseInsensitive) == 0;
    // RFC 6749 §5.2: after HTTP Basic, a 401 names the scheme the client used.
    const Http::HeaderList basicChallenge{
        {"WWW-Authenticate",
         QStringLiteral("Basic realm=%1").arg(OAuthHttp::quotedParameter(m_context.issuer())).toUtf8()}};
    auto fail = [basic, &basicChallenge](int status, const char *code, const QString &description) {
        return OAuthError{status, code, description,
                          basic && status == 401 ? basicChallenge : Http::HeaderList{}};
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
    Result<ClientRecord> client = OAuthContext::findClient(store, clientId);
    if (!client) {
        if (client.error().code == ErrorCode::NotFound)
            return fail(401, "invalid_client", QStringLiteral("unknown client_id"));
        return storeFailure(client.error(), QStringLiteral("the client could not be looked up"));
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
    return client.value();
}

Result<IssuedTokens, OAuthError> TokenController::exchangeCode(TokenStore &store, const Form::Fields &fields,
                                                               const ClientRecord &client,
                                                               Effects &effects) const
{
    auto fail = [](int status, const char *code, const QString &description) {
        return OAuthError{status, code, description};
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
    Result<AuthCodeRecord> record = store.consumeAuthCode(codeHash);
    if (!record) {
        switch (record.error().code) {
        case ErrorCode::Conflict:
            // OAuth 2.1 §4.1.3: the store revoked what the code gave out.
            effects.revoked(record.error().subject, QStringLiteral("authorization code replayed"));
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
            return storeFailure(record.error(), QStringLiteral("the code could not be redeemed"));
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
        if (Result<void> revoked = store.revokeGrant(redeemed.grantId); !revoked)
            qCWarning(lcOAuth).noquote()
                << "cannot revoke grant" << redeemed.grantId << ":" << revoked.error().message;
        return fail(400, "invalid_grant", refusal);
    }
    TokenRequest request;
    request.scope = redeemed.scope;
    request.resource = redeemed.resource;
    request.accessExpiresAt = m_context.now().addSecs(config().accessTokenTtl.count());
    request.refreshExpiresAt = m_context.now().addSecs(config().refreshTokenTtl.count());
    Result<IssuedTokens> issued = store.issueTokenPair(redeemed.grantId, request);
    if (!issued) {
        qCWarning(lcOAuth).noquote() << "cannot issue tokens for grant" << redeemed.grantId << ":"
                                     << issued.error().message;
        return storeFailure(issued.error(), QStringLiteral("the tokens could not be issued"));
    }
    qCInfo(lcOAuth).noquote() << "issued access token"
                              << TokenHash::of(issued.value().accessToken).fingerprint() << "for grant"
                              << redeemed.grantId << "of" << redeemed.userLogin << "to client"
                              << client.clientId;
    effects.audit = tokenEvent(OAuthEvent::Kind::TokenIssued, client, redeemed.grantId, redeemed.userLogin);
    return issued.value();
}

Result<IssuedTokens, OAuthError> TokenController::refreshTokens(TokenStore &store, const Form::Fields &fields,
                                                                const ClientRecord &client,
                                                                Effects &effects) const
{
    auto fail = [](int status, const char *code, const QString &description) {
        return OAuthError{status, code, description};
    };
    const QString refreshToken = Form::value(fields, u"refresh_token");
    if (refreshToken.isEmpty())
        return fail(400, "invalid_request", QStringLiteral("refresh_token is required"));
    // Unknown scopes are ignored here too; none left: the old token's scope.
    QStringList scopes = Form::value(fields, u"scope").split(QLatin1Char(' '), Qt::SkipEmptyParts);
    scopes.removeIf([this](const QString &scope) { return !config().scopes.contains(scope); });
    TokenRequest request;
    request.scope = scopes.join(QLatin1Char(' '));
    request.accessExpiresAt = m_context.now().addSecs(config().accessTokenTtl.count());
    request.refreshExpiresAt = m_context.now().addSecs(config().refreshTokenTtl.count());
    const TokenHash hash = TokenHash::of(refreshToken.toUtf8());
    Result<IssuedTokens> issued = store.rotateRefreshToken(hash, client.clientId, request);
    if (!issued) {
        switch (issued.error().code) {
        case ErrorCode::Conflict:
            // OAuth 2.1 §4.3.1: a rotated refresh token came back; the store revoked its family.
            effects.revoked(issued.error().subject, QStringLiteral("refresh token replayed"));
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
            return storeFailure(issued.error(), QStringLiteral("the refresh token could not be rotated"));
        }
    }
    // One lookup per refresh (an hour or so per client), for the user's name in the audit trail.
    const Result<GrantRecord> grant = store.findGrant(issued.value().grantId);
    effects.audit = tokenEvent(OAuthEvent::Kind::TokenRefreshed, client, issued.value().grantId,
                               grant ? grant.value().userLogin : QString());
    return issued.value();
}

void TokenController::handleRevoke(const QHttpServerRequest &request, const HttpExchange &exchange)
{
    if (!OAuthHttp::admitMethod(request, exchange, QHttpServerRequest::Method::Post, "POST, OPTIONS",
                                OAuthHttp::Audience::Client))
        return;
    if (OAuthHttp::checkBody(request, config().maxRequestBytes, FormMediaType) !=
        OAuthHttp::BodyFault::None) {
        OAuthHttp::sendOAuthError(
            exchange, {400, "invalid_request",
                       QStringLiteral("the revocation request must be application/x-www-form-urlencoded "
                                      "and at most %1 bytes")
                           .arg(config().maxRequestBytes)});
        return;
    }
    const Form::Fields fields = Form::parse(request.body());
    const QString token = Form::value(fields, u"token");
    if (token.isEmpty()) {
        OAuthHttp::sendOAuthError(exchange, {400, "invalid_request", QStringLiteral("token is required")});
        return;
    }
    const QByteArray authorization = request.value("authorization").trimmed();
    m_context.stores().run<Outcome<bool>>(
        this,
        [this, authorization, fields, token](TokenStore &store) {
            Outcome<bool> outcome;
            Result<ClientRecord, OAuthError> client = authenticateClient(store, authorization, fields);
            if (client)
                outcome.result = revokeToken(store, token, client.value(), outcome);
            else
                outcome.result = client.error();
            return outcome;
        },
        [this, exchange](Outcome<bool> outcome) {
            publish(outcome);
            if (!outcome.result) {
                OAuthHttp::sendOAuthError(exchange, outcome.result.error());
                return;
            }
            Http::HeaderList headers = OAuthHttp::corsHeaders();
            headers.emplaceBack("Cache-Control", "no-store");
            OAuthHttp::send(exchange, 200, headers, {});
        });
}

Result<bool, OAuthError> TokenController::revokeToken(TokenStore &store, const QString &token,
                                                      const ClientRecord &client, Effects &effects) const
{
    const QString clientId = client.clientId;
    // The hint only speeds up a lookup (RFC 7009 §2.1); one lookup finds either kind.
    const TokenHash hash = TokenHash::of(token.toUtf8());
    Result<TokenRecord> revoked = store.revokeToken(hash, clientId);
    if (!revoked) {
        switch (revoked.error().code) {
        case ErrorCode::NotFound:
            return false; // RFC 7009 §2.2: an unknown token is not an error
        case ErrorCode::Forbidden:
            qCWarning(lcOAuth).noquote() << "client" << clientId << "tried to revoke token"
                                         << hash.fingerprint() << "of another client";
            return OAuthError{400, "unauthorized_client",
                              QStringLiteral("the token was issued to another client")};
        default:
            qCWarning(lcOAuth).noquote()
                << "cannot revoke token" << hash.fingerprint() << ":" << revoked.error().message;
            return OAuthError{503,
                              "temporarily_unavailable",
                              QStringLiteral("try again later"),
                              {{"Retry-After", QByteArray::number(StoreRetryAfterSeconds)}}};
        }
    }
    effects.audit = tokenEvent(
        OAuthEvent::Kind::TokenRevoked, client, revoked.value().grantId, revoked.value().userLogin,
        revoked.value().kind == TokenKind::Refresh ? QStringLiteral("refresh") : QStringLiteral("access"));
    return true;
}

OAuthEvent TokenController::tokenEvent(OAuthEvent::Kind kind, const ClientRecord &client,
                                       const QString &grantId, const QString &user, const QString &detail)
{
    return {.kind = kind,
            .user = user,
            .clientId = client.clientId,
            .clientName = client.clientName,
            .grantId = grantId,
            .detail = detail};
}

} // namespace fmb
