#include "FakeForgejo.h"

#include <algorithm>
#include <memory>
#include <utility>

#include <QCryptographicHash>
#include <QDateTime>
#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QHttpServerResponse>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QMap>
#include <QRandomGenerator>
#include <QSet>
#include <QTcpServer>
#include <QTimer>
#include <QUrl>

namespace fmb::fake {
namespace {

Q_LOGGING_CATEGORY(lcFakeForgejo, "fmb.fake.forgejo", QtInfoMsg)

using Status = QHttpServerResponse::StatusCode;
using Form = QHash<QString, QString>;

const QByteArray kJson = QByteArrayLiteral("application/json;charset=utf-8");

// Forgejo's own paths plus the test controls; a known path with the wrong
// method answers 405 instead of 404.
const QSet<QString> kKnownPaths = {
    QStringLiteral("/login/oauth/authorize"), QStringLiteral("/login/oauth/access_token"),
    QStringLiteral("/login/oauth/userinfo"),  QStringLiteral("/.well-known/openid-configuration"),
    QStringLiteral("/api/v1/user"),           QStringLiteral("/api/v1/version"),
    QStringLiteral("/_fake/login"),           QStringLiteral("/_fake/stats"),
    QStringLiteral("/_fake/tokens"),          QStringLiteral("/_fake/fail-refresh"),
    QStringLiteral("/_fake/expire-all"),      QStringLiteral("/_fake/revoke"),
    QStringLiteral("/_fake/access-ttl"),
};

QByteArray headerValue(const QHttpServerRequest &request, const QByteArray &name)
{
    const auto headers = request.headers();
    for (const auto &[key, value] : headers) {
        if (key.compare(name, Qt::CaseInsensitive) == 0)
            return value;
    }
    return {};
}

// application/x-www-form-urlencoded as Go's url.ParseQuery reads it ("+" is a
// space); the first value of a repeated key wins, as with Go's Values.Get.
Form parseForm(const QByteArray &encoded)
{
    Form form;
    const QList<QByteArray> pairs = encoded.split('&');
    for (const QByteArray &pair : pairs) {
        if (pair.isEmpty())
            continue;
        const qsizetype eq = pair.indexOf('=');
        QByteArray key = eq < 0 ? pair : pair.left(eq);
        QByteArray value = eq < 0 ? QByteArray() : pair.mid(eq + 1);
        key.replace('+', ' ');
        value.replace('+', ' ');
        const QString name = QString::fromUtf8(QByteArray::fromPercentEncoding(key));
        if (!form.contains(name))
            form.insert(name, QString::fromUtf8(QByteArray::fromPercentEncoding(value)));
    }
    return form;
}

Form queryForm(const QHttpServerRequest &request)
{
    return parseForm(request.url().query(QUrl::FullyEncoded).toUtf8());
}

QHttpServerResponse jsonResponse(const QJsonObject &object, Status status = Status::Ok)
{
    return QHttpServerResponse(kJson, QJsonDocument(object).toJson(QJsonDocument::Compact), status);
}

// RFC 6749 §5.2 error body; Forgejo answers every token error with 400
// (handleAccessTokenError in routers/web/auth/oauth.go).
QHttpServerResponse tokenError(const QString &code, const QString &description)
{
    return jsonResponse({{QLatin1String("error"), code}, {QLatin1String("error_description"), description}},
                        Status::BadRequest);
}

// Forgejo renders user/auth/grant_error with 400 when it cannot trust the
// redirect URI (unknown client, unregistered redirect_uri).
QHttpServerResponse htmlError(const QString &code, const QString &description)
{
    const QString page = QStringLiteral("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                                        "<title>Authorization failed - Forgejo</title></head>\n<body>"
                                        "<h1>Authorization failed</h1>\n<p class=\"error\">") +
                         code.toHtmlEscaped() + QStringLiteral(": ") + description.toHtmlEscaped() +
                         QStringLiteral("</p>\n</body></html>\n");
    return QHttpServerResponse(QByteArrayLiteral("text/html;charset=utf-8"), page.toUtf8(),
                               Status::BadRequest);
}

// redirectUri with the given parameters set in its query. Go's url.Values.Encode
// sorts by key, so the merged query is sorted too.
QByteArray withQuery(const QString &redirectUri, const QList<std::pair<QString, QString>> &params)
{
    QUrl url(redirectUri);
    const Form existing = parseForm(url.query(QUrl::FullyEncoded).toUtf8());
    QMap<QString, QString> items;
    for (auto it = existing.cbegin(); it != existing.cend(); ++it)
        items.insert(it.key(), it.value());
    for (const auto &[key, value] : params)
        items.insert(key, value);
    QByteArray query;
    for (auto it = items.cbegin(); it != items.cend(); ++it) {
        if (!query.isEmpty())
            query += '&';
        query += QUrl::toPercentEncoding(it.key()) + '=' + QUrl::toPercentEncoding(it.value());
    }
    url.setQuery(QString::fromLatin1(query), QUrl::StrictMode);
    return url.toEncoded();
}

// Forgejo's ctx.Redirect defaults to 303 See Other, for the code and for errors.
QHttpServerResponse redirectTo(const QByteArray &location)
{
    // Go's http.Redirect also sends this small page for GET requests.
    const QByteArray page =
        "<a href=\"" + QString::fromUtf8(location).toHtmlEscaped().toUtf8() + "\">See Other</a>.\n\n";
    QHttpServerResponse response(QByteArrayLiteral("text/html;charset=utf-8"), page, Status::SeeOther);
    response.setHeader(QByteArrayLiteral("Location"), location);
    return response;
}

QHttpServerResponse redirectError(const QString &redirectUri, const QString &code, const QString &description,
                                  const QString &state)
{
    return redirectTo(withQuery(redirectUri, {{QStringLiteral("error"), code},
                                              {QStringLiteral("error_description"), description},
                                              {QStringLiteral("state"), state}}));
}

QByteArray randomToken(const char *prefix)
{
    quint32 words[8];
    QRandomGenerator::system()->fillRange(words);
    return QByteArray(prefix) + QByteArray(reinterpret_cast<const char *>(words), sizeof words).toHex();
}

// What logs and /_fake/tokens show instead of a token (STYLE.md §7).
QString fingerprint(const QByteArray &token)
{
    return QString::fromLatin1(QCryptographicHash::hash(token, QCryptographicHash::Sha256).toHex().left(8));
}

bool constantTimeEquals(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

// OAuth2AuthorizationCode.ValidateCodeChallenge (models/auth/oauth2.go): no
// challenge means no verifier is needed; a challenge stored without a method
// never validates.
bool validateCodeChallenge(const QString &challenge, const QString &method, const QString &verifier)
{
    if (method.isEmpty() && challenge.isEmpty())
        return true;
    if (verifier.isEmpty())
        return false;
    if (method == QLatin1String("S256")) {
        const QByteArray hashed =
            QCryptographicHash::hash(verifier.toUtf8(), QCryptographicHash::Sha256)
                .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
        return constantTimeEquals(hashed, challenge.toUtf8());
    }
    if (method == QLatin1String("plain"))
        return constantTimeEquals(verifier.toUtf8(), challenge.toUtf8());
    return false;
}

// The token of "Authorization: token X" or "Authorization: Bearer X", as
// services/auth/oauth2.go parseToken reads it; empty when absent or malformed.
QByteArray bearerToken(const QHttpServerRequest &request)
{
    const QList<QByteArray> fields =
        headerValue(request, QByteArrayLiteral("authorization")).simplified().split(' ');
    if (fields.size() != 2)
        return {};
    const QByteArray scheme = fields.first().toLower();
    if (scheme != "token" && scheme != "bearer")
        return {};
    return fields.last();
}

// Body of a /_fake/ control request: a JSON object (an empty body is {}).
bool controlBody(const QHttpServerRequest &request, QJsonObject *object)
{
    if (request.body().trimmed().isEmpty()) {
        *object = {};
        return true;
    }
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(request.body(), &error);
    if (error.error != QJsonParseError::NoError || !document.isObject())
        return false;
    *object = document.object();
    return true;
}

QHttpServerResponse controlError(Status status, const QString &message)
{
    return jsonResponse({{QLatin1String("error"), message}}, status);
}

QString capitalised(const QString &login)
{
    return login.isEmpty() ? login : login.left(1).toUpper() + login.mid(1);
}

} // namespace

FakeForgejo::FakeForgejo(FakeConfig config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_server(new QHttpServer(this))
    , m_failRefreshError(QStringLiteral("invalid_grant"))
    , m_failRefreshDescription(QStringLiteral("refresh refused by /_fake/fail-refresh"))
{
    m_clock.start();
    if (m_config.users.isEmpty())
        m_config.users.append(FakeUser{1, QStringLiteral("alice")});
    m_currentLogin = m_config.users.first().login;
    addRoutes();
}

FakeForgejo::~FakeForgejo() = default;

quint16 FakeForgejo::listen(const QHostAddress &address, quint16 port)
{
    auto *tcp = new QTcpServer(this);
    if (!tcp->listen(address, port)) {
        m_errorString = QStringLiteral("cannot listen on %1:%2: %3")
                            .arg(address.toString(), QString::number(port), tcp->errorString());
        delete tcp;
        return 0;
    }
    m_server->bind(tcp); // reparents tcp to the server
    const quint16 bound = tcp->serverPort();
    const QString host = address.protocol() == QAbstractSocket::IPv6Protocol
                             ? QStringLiteral("[") + address.toString() + QStringLiteral("]")
                             : address.toString();
    m_baseUrl = QStringLiteral("http://") + host + QStringLiteral(":") + QString::number(bound);
    return bound;
}

void FakeForgejo::addRoutes()
{
    using Method = QHttpServerRequest::Method;
    m_server->route(QStringLiteral("/login/oauth/authorize"), Method::Get,
                    [this](const QHttpServerRequest &request) { return authorize(request); });
    m_server->route(QStringLiteral("/login/oauth/access_token"), Method::Post,
                    [this](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
                        // Tokens are issued (and a refresh token spent) on arrival, as
                        // Forgejo's database write; only the answer waits.
                        auto response = std::make_shared<QHttpServerResponse>(accessToken(request));
                        if (m_tokenAnswerDelayMs <= 0) {
                            response->write(std::move(responder));
                            return;
                        }
                        auto held = std::make_shared<QHttpServerResponder>(std::move(responder));
                        QTimer::singleShot(m_tokenAnswerDelayMs, this,
                                           [held, response] { response->write(std::move(*held)); });
                    });
    m_server->route(QStringLiteral("/login/oauth/userinfo"), Method::Get | Method::Post,
                    [this](const QHttpServerRequest &request) { return userInfo(request); });
    m_server->route(QStringLiteral("/.well-known/openid-configuration"), Method::Get,
                    [this](const QHttpServerRequest &) { return wellKnown(); });
    m_server->route(QStringLiteral("/api/v1/user"), Method::Get,
                    [this](const QHttpServerRequest &request) { return apiUser(request); });
    m_server->route(QStringLiteral("/api/v1/version"), Method::Get, [](const QHttpServerRequest &) {
        return jsonResponse({{QLatin1String("version"), QLatin1String("9.0.3+gitea-1.22.0")}});
    });

    m_server->route(QStringLiteral("/_fake/login"), Method::Post,
                    [this](const QHttpServerRequest &request) { return fakeLogin(request); });
    m_server->route(QStringLiteral("/_fake/stats"), Method::Get,
                    [this](const QHttpServerRequest &) { return fakeStats(); });
    m_server->route(QStringLiteral("/_fake/tokens"), Method::Get,
                    [this](const QHttpServerRequest &) { return fakeTokens(); });
    m_server->route(QStringLiteral("/_fake/fail-refresh"), Method::Post,
                    [this](const QHttpServerRequest &request) { return fakeFailRefresh(request); });
    m_server->route(QStringLiteral("/_fake/expire-all"), Method::Post,
                    [this](const QHttpServerRequest &) { return fakeExpireAll(); });
    m_server->route(QStringLiteral("/_fake/revoke"), Method::Post,
                    [this](const QHttpServerRequest &request) { return fakeRevoke(request); });
    m_server->route(QStringLiteral("/_fake/access-ttl"), Method::Post,
                    [this](const QHttpServerRequest &request) { return fakeAccessTtl(request); });

    m_server->setMissingHandler([](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
        const bool known = kKnownPaths.contains(request.url().path());
        qCDebug(lcFakeForgejo) << "no route for" << request.method() << request.url().path();
        const QJsonObject body{{QLatin1String("message"),
                                known ? QLatin1String("method not allowed") : QLatin1String("not found")}};
        responder.write(QJsonDocument(body).toJson(QJsonDocument::Compact), kJson,
                        known ? Status::MethodNotAllowed : Status::NotFound);
    });
}

// AuthorizeOAuth (routers/web/auth/oauth.go), for a user who is signed in and
// has granted the application before: checks in Forgejo's order, then 303 to
// the redirect URI with code and state.
QHttpServerResponse FakeForgejo::authorize(const QHttpServerRequest &request)
{
    const Form query = queryForm(request);
    const QString clientId = query.value(QStringLiteral("client_id"));
    const QString redirectUri = query.value(QStringLiteral("redirect_uri"));
    const QString state = query.value(QStringLiteral("state"));
    const QString challenge = query.value(QStringLiteral("code_challenge"));
    const QString method = query.value(QStringLiteral("code_challenge_method"));

    if (clientId.isEmpty() || clientId != m_config.clientId) {
        qCWarning(lcFakeForgejo) << "authorize: unknown client_id" << clientId;
        return htmlError(QStringLiteral("unauthorized_client"), QStringLiteral("Client ID not registered"));
    }
    if (!redirectUriRegistered(redirectUri)) {
        qCWarning(lcFakeForgejo) << "authorize: unregistered redirect_uri" << redirectUri;
        return htmlError(QStringLiteral("invalid_request"), QStringLiteral("Unregistered Redirect URI"));
    }
    if (query.value(QStringLiteral("response_type")) != QLatin1String("code")) {
        return redirectError(redirectUri, QStringLiteral("unsupported_response_type"),
                             QStringLiteral("Only code response type is supported."), state);
    }
    if (method.isEmpty()) {
        // RFC 8252 §8.1 / RFC 7636 §4.4.1: public clients must use PKCE.
        if (!m_config.confidential) {
            return redirectError(redirectUri, QStringLiteral("invalid_request"),
                                 QStringLiteral("PKCE is required for public clients"), state);
        }
    } else if (method != QLatin1String("S256") && method != QLatin1String("plain")) {
        return redirectError(redirectUri, QStringLiteral("invalid_request"),
                             QStringLiteral("unsupported code challenge method"), state);
    }

    const FakeUser *user = findUser(m_currentLogin);
    auto grant = m_grants.find(user->id);
    if (grant == m_grants.end())
        grant = m_grants.insert(user->id, Grant{m_nextGrantId++, 1});

    const QByteArray code = randomToken("gta_");
    m_codes.insert(code, AuthCode{grant->id, user->id, redirectUri, challenge, method,
                                  nowMs() + m_config.codeTtlSeconds * 1000});
    ++m_authorizations;
    qCInfo(lcFakeForgejo).noquote() << "authorized" << user->login << "code" << fingerprint(code)
                                    << (challenge.isEmpty() ? QStringLiteral("without PKCE")
                                                            : QStringLiteral("PKCE ") + method);

    QList<std::pair<QString, QString>> params{{QStringLiteral("code"), QString::fromLatin1(code)}};
    if (!state.isEmpty())
        params.append({QStringLiteral("state"), state});
    return redirectTo(withQuery(redirectUri, params));
}

// AccessTokenOAuth: client credentials from the body, else from HTTP Basic
// (a body value must then agree with the header), then the grant type.
QHttpServerResponse FakeForgejo::accessToken(const QHttpServerRequest &request)
{
    Form form;
    const QByteArray contentType = headerValue(request, QByteArrayLiteral("content-type")).toLower();
    if (contentType.startsWith("application/json")) {
        const QJsonObject object = QJsonDocument::fromJson(request.body()).object();
        for (auto it = object.begin(); it != object.end(); ++it) {
            if (it.value().isString())
                form.insert(it.key(), it.value().toString());
        }
    } else {
        form = parseForm(request.body());
    }
    // Go's Request.Form also holds the URL query, after the body values.
    const Form query = queryForm(request);
    for (auto it = query.cbegin(); it != query.cend(); ++it) {
        if (!form.contains(it.key()))
            form.insert(it.key(), it.value());
    }

    const QString idKey = QStringLiteral("client_id");
    const QString secretKey = QStringLiteral("client_secret");
    if (form.value(idKey).isEmpty() || form.value(secretKey).isEmpty()) {
        const QByteArray authorization = headerValue(request, QByteArrayLiteral("authorization"));
        const qsizetype space = authorization.indexOf(' ');
        if (space > 0 && authorization.left(space).compare("basic", Qt::CaseInsensitive) == 0) {
            const auto decoded = QByteArray::fromBase64Encoding(authorization.mid(space + 1),
                                                                QByteArray::AbortOnBase64DecodingErrors);
            const qsizetype colon = decoded ? decoded.decoded.indexOf(':') : -1;
            if (colon < 0) {
                return tokenError(QStringLiteral("invalid_request"),
                                  QStringLiteral("cannot parse basic auth header"));
            }
            const QString basicId = QString::fromUtf8(decoded.decoded.left(colon));
            const QString basicSecret = QString::fromUtf8(decoded.decoded.mid(colon + 1));
            if (!form.value(idKey).isEmpty() && form.value(idKey) != basicId) {
                return tokenError(
                    QStringLiteral("invalid_request"),
                    QStringLiteral("client_id in request body inconsistent with Authorization header"));
            }
            if (!form.value(secretKey).isEmpty() && form.value(secretKey) != basicSecret) {
                return tokenError(
                    QStringLiteral("invalid_request"),
                    QStringLiteral("client_secret in request body inconsistent with Authorization header"));
            }
            form.insert(idKey, basicId);
            form.insert(secretKey, basicSecret);
        }
    }

    const QString grantType = form.value(QStringLiteral("grant_type"));
    qCDebug(lcFakeForgejo) << "token request, grant_type" << grantType;
    if (grantType == QLatin1String("refresh_token"))
        return refreshToken(form);
    if (grantType == QLatin1String("authorization_code"))
        return exchangeCode(form);
    return tokenError(QStringLiteral("unsupported_grant_type"),
                      QStringLiteral("Only refresh_token or authorization_code grant type is supported"));
}

// handleAuthorizationCode. Forgejo answers most failures here with
// unauthorized_client, not invalid_grant, and only checks that redirect_uri is
// registered (or absent), not that it equals the one the code was issued for.
QHttpServerResponse FakeForgejo::exchangeCode(const Form &form)
{
    const QString clientId = form.value(QStringLiteral("client_id"));
    const QString secret = form.value(QStringLiteral("client_secret"));
    const QString redirectUri = form.value(QStringLiteral("redirect_uri"));
    const QByteArray code = form.value(QStringLiteral("code")).toUtf8();
    const QString verifier = form.value(QStringLiteral("code_verifier"));

    const auto fail = [this](const QString &error, const QString &description) {
        ++m_codeExchangeFailures;
        qCInfo(lcFakeForgejo).noquote() << "code exchange refused:" << error << "-" << description;
        return tokenError(error, description);
    };

    if (clientId != m_config.clientId) {
        return fail(QStringLiteral("invalid_client"),
                    QStringLiteral("cannot load client with client id: '%1'").arg(clientId));
    }
    if (m_config.confidential && !secretMatches(secret)) {
        return fail(QStringLiteral("unauthorized_client"), secret.isEmpty()
                                                               ? QStringLiteral("invalid empty client secret")
                                                               : QStringLiteral("invalid client secret"));
    }
    if (!redirectUri.isEmpty() && !redirectUriRegistered(redirectUri))
        return fail(QStringLiteral("unauthorized_client"), QStringLiteral("unexpected redirect URI"));

    auto it = m_codes.find(code);
    if (it != m_codes.end() && nowMs() >= it->expiresAtMs) {
        // Forgejo stores ValidUntil but never checks it; we expire codes after --code-ttl.
        m_codes.erase(it);
        it = m_codes.end();
    }
    const auto grant = it == m_codes.end() ? m_grants.cend() : m_grants.constFind(it->userId);
    if (it == m_codes.end() || grant == m_grants.cend() || grant->id != it->grantId)
        return fail(QStringLiteral("unauthorized_client"), QStringLiteral("client is not authorized"));
    // A failed verifier leaves the code usable, as in Forgejo (it is deleted only on success).
    if (!validateCodeChallenge(it->challenge, it->challengeMethod, verifier))
        return fail(QStringLiteral("unauthorized_client"), QStringLiteral("failed PKCE code challenge"));

    const qint64 userId = it->userId;
    m_codes.erase(it);
    ++m_codeExchanges;
    ++m_userStats[userId].codeExchanges;
    return jsonResponse(issueTokens(userId, QStringLiteral("authorization_code")));
}

// handleRefreshToken. An unknown or expired refresh token cannot be parsed
// (unauthorized_client); a revoked grant is invalid_grant; with invalidation on,
// a token whose counter is behind the grant's was "already used" (unauthorized_client).
QHttpServerResponse FakeForgejo::refreshToken(const Form &form)
{
    const QString clientId = form.value(QStringLiteral("client_id"));
    const QString secret = form.value(QStringLiteral("client_secret"));
    const QByteArray presented = form.value(QStringLiteral("refresh_token")).toUtf8();

    const auto fail = [this](const QString &error, const QString &description) {
        ++m_refreshFailures;
        qCInfo(lcFakeForgejo).noquote() << "refresh refused:" << error << "-" << description;
        return tokenError(error, description);
    };

    if (clientId != m_config.clientId) {
        return fail(QStringLiteral("invalid_client"),
                    QStringLiteral("cannot load client with client id: \"%1\"").arg(clientId));
    }
    if (m_config.confidential && !secretMatches(secret)) {
        return fail(QStringLiteral("invalid_client"), secret.isEmpty()
                                                          ? QStringLiteral("invalid empty client secret")
                                                          : QStringLiteral("invalid client secret"));
    }
    if (m_failRefresh)
        return fail(m_failRefreshError, m_failRefreshDescription);

    const auto it = m_tokens.constFind(presented);
    if (it == m_tokens.cend() || !it->refresh || nowMs() >= it->expiresAtMs)
        return fail(QStringLiteral("unauthorized_client"), QStringLiteral("unable to parse refresh token"));
    const auto grant = m_grants.constFind(it->userId);
    if (grant == m_grants.cend() || grant->id != it->grantId)
        return fail(QStringLiteral("invalid_grant"), QStringLiteral("grant does not exist"));
    if (m_config.invalidateRefreshTokens && (grant->counter != it->counter || it->counter == 0)) {
        qCWarning(lcFakeForgejo).noquote()
            << "refresh token" << fingerprint(presented) << "of grant" << grant->id << "was used twice";
        return fail(QStringLiteral("unauthorized_client"), QStringLiteral("token was already used"));
    }

    const qint64 userId = it->userId;
    ++m_refreshes;
    ++m_userStats[userId].refreshes;
    return jsonResponse(issueTokens(userId, QStringLiteral("refresh_token")));
}

// newAccessTokenResponse: bump the grant counter (when refresh tokens are
// invalidated), then a new access token and a refresh token carrying the counter.
QJsonObject FakeForgejo::issueTokens(qint64 userId, const QString &via)
{
    Grant &grant = m_grants[userId];
    if (m_config.invalidateRefreshTokens)
        ++grant.counter;
    const qint64 now = nowMs();
    const QString issuedAt = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);

    const QByteArray access = randomToken("gto_");
    m_tokens.insert(access, IssuedToken{grant.id, userId, 0, now + m_config.accessTtlSeconds * 1000, issuedAt,
                                        via, false});
    const QByteArray refresh = randomToken("gtr_");
    m_tokens.insert(refresh, IssuedToken{grant.id, userId, grant.counter,
                                         now + m_config.refreshTtlSeconds * 1000, issuedAt, via, true});
    m_tokenOrder << access << refresh;

    const FakeUser *user = findUser(userId);
    qCInfo(lcFakeForgejo).noquote() << "issued tokens for" << user->login << "via" << via << "access"
                                    << fingerprint(access) << "refresh" << fingerprint(refresh) << "grant"
                                    << grant.id << "counter" << grant.counter;
    return {{QLatin1String("access_token"), QString::fromLatin1(access)},
            {QLatin1String("token_type"), QLatin1String("bearer")},
            {QLatin1String("expires_in"), m_config.accessTtlSeconds},
            {QLatin1String("refresh_token"), QString::fromLatin1(refresh)}};
}

// GET /api/v1/user. Without a usable Authorization header reqToken answers
// "token is required"; with a dead token the OAuth2 method fails with
// ErrUserNotExist and apiAuth answers 401 with that error's text.
QHttpServerResponse FakeForgejo::apiUser(const QHttpServerRequest &request)
{
    const QString swagger = m_baseUrl + QStringLiteral("/api/swagger");
    const QByteArray token = bearerToken(request);
    if (token.isEmpty()) {
        return jsonResponse(
            {{QLatin1String("message"), QLatin1String("token is required")}, {QLatin1String("url"), swagger}},
            Status::Unauthorized);
    }
    const FakeUser *user = userForAccessToken(token);
    if (!user) {
        qCDebug(lcFakeForgejo).noquote() << "api/v1/user: dead token" << fingerprint(token);
        return jsonResponse(
            {{QLatin1String("message"), QLatin1String("user does not exist [uid: 0, name: ]")},
             {QLatin1String("url"), swagger}},
            Status::Unauthorized);
    }
    return jsonResponse(userJson(*user));
}

// InfoOAuth: OIDC userinfo for an OAuth2 access token.
QHttpServerResponse FakeForgejo::userInfo(const QHttpServerRequest &request)
{
    const FakeUser *user = userForAccessToken(bearerToken(request));
    if (!user) {
        QHttpServerResponse response(QByteArrayLiteral("text/plain;charset=utf-8"),
                                     QByteArrayLiteral("no valid authorization"), Status::Unauthorized);
        response.setHeader(QByteArrayLiteral("WWW-Authenticate"), QByteArrayLiteral("Bearer realm=\"\""));
        return response;
    }
    const QJsonObject json = userJson(*user);
    return jsonResponse({{QLatin1String("sub"), QString::number(user->id)},
                         {QLatin1String("name"), json.value(QLatin1String("full_name"))},
                         {QLatin1String("preferred_username"), user->login},
                         {QLatin1String("email"), json.value(QLatin1String("email"))},
                         {QLatin1String("picture"), json.value(QLatin1String("avatar_url"))}});
}

QHttpServerResponse FakeForgejo::wellKnown() const
{
    const auto endpoint = [this](const char *path) { return QString(m_baseUrl + QLatin1String(path)); };
    return jsonResponse({
        {QLatin1String("issuer"), m_baseUrl},
        {QLatin1String("authorization_endpoint"), endpoint("/login/oauth/authorize")},
        {QLatin1String("token_endpoint"), endpoint("/login/oauth/access_token")},
        {QLatin1String("userinfo_endpoint"), endpoint("/login/oauth/userinfo")},
        {QLatin1String("introspection_endpoint"), endpoint("/login/oauth/introspect")},
        {QLatin1String("jwks_uri"), endpoint("/login/oauth/keys")},
        {QLatin1String("response_types_supported"),
         QJsonArray{QLatin1String("code"), QLatin1String("id_token")}},
        {QLatin1String("grant_types_supported"),
         QJsonArray{QLatin1String("authorization_code"), QLatin1String("refresh_token")}},
        {QLatin1String("code_challenge_methods_supported"),
         QJsonArray{QLatin1String("plain"), QLatin1String("S256")}},
        {QLatin1String("scopes_supported"), QJsonArray{QLatin1String("openid"), QLatin1String("profile"),
                                                       QLatin1String("email"), QLatin1String("groups")}},
        {QLatin1String("token_endpoint_auth_methods_supported"),
         QJsonArray{QLatin1String("client_secret_basic"), QLatin1String("client_secret_post")}},
    });
}

QHttpServerResponse FakeForgejo::fakeLogin(const QHttpServerRequest &request)
{
    QJsonObject body;
    if (!controlBody(request, &body))
        return controlError(Status::BadRequest, QStringLiteral("body is not a JSON object"));
    const QString login = body.value(QLatin1String("login")).toString();
    if (login.isEmpty())
        return controlError(Status::BadRequest, QStringLiteral("\"login\" is missing or not a string"));
    const FakeUser *user = findUser(login);
    if (!user) {
        const QJsonValue id = body.value(QLatin1String("id"));
        if (!id.isDouble()) {
            QStringList known;
            for (const FakeUser &u : std::as_const(m_config.users))
                known << u.login;
            return controlError(Status::NotFound,
                                QStringLiteral("unknown user \"%1\" (known: %2); pass \"id\" to add it")
                                    .arg(login, known.join(QStringLiteral(", "))));
        }
        if (findUser(id.toInteger()))
            return controlError(Status::Conflict, QStringLiteral("user id %1 is taken").arg(id.toInteger()));
        m_config.users.append(FakeUser{id.toInteger(), login});
        user = &m_config.users.last();
    }
    m_currentLogin = user->login;
    qCInfo(lcFakeForgejo).noquote() << "now logged in as" << user->login;
    return jsonResponse({{QLatin1String("login"), user->login}, {QLatin1String("id"), user->id}});
}

QHttpServerResponse FakeForgejo::fakeStats() const
{
    QJsonArray users;
    for (const FakeUser &user : m_config.users) {
        const UserStats stats = m_userStats.value(user.id);
        users.append(QJsonObject{{QLatin1String("login"), user.login},
                                 {QLatin1String("id"), user.id},
                                 {QLatin1String("has_grant"), m_grants.contains(user.id)},
                                 {QLatin1String("active_access_tokens"), liveAccessTokens(user.id)},
                                 {QLatin1String("code_exchanges"), stats.codeExchanges},
                                 {QLatin1String("refreshes"), stats.refreshes}});
    }
    return jsonResponse({{QLatin1String("authorizations"), m_authorizations},
                         {QLatin1String("code_exchanges"), m_codeExchanges},
                         {QLatin1String("code_exchange_failures"), m_codeExchangeFailures},
                         {QLatin1String("refreshes"), m_refreshes},
                         {QLatin1String("refresh_failures"), m_refreshFailures},
                         {QLatin1String("active_access_tokens"), liveAccessTokens()},
                         {QLatin1String("current_user"), m_currentLogin},
                         {QLatin1String("fail_refresh"), m_failRefresh},
                         {QLatin1String("invalidate_refresh_tokens"), m_config.invalidateRefreshTokens},
                         {QLatin1String("users"), users}});
}

// Every token ever issued, oldest first, by fingerprint: which user it
// belongs to, how it was obtained, and whether it still works.
QHttpServerResponse FakeForgejo::fakeTokens() const
{
    const qint64 now = nowMs();
    QJsonArray tokens;
    for (const QByteArray &token : m_tokenOrder) {
        const IssuedToken issued = m_tokens.value(token);
        const FakeUser *user = findUser(issued.userId);
        QJsonObject entry{
            {QLatin1String("fingerprint"), fingerprint(token)},
            {QLatin1String("kind"), issued.refresh ? QLatin1String("refresh") : QLatin1String("access")},
            {QLatin1String("login"), user ? user->login : QString()},
            {QLatin1String("user_id"), issued.userId},
            {QLatin1String("grant_id"), issued.grantId},
            {QLatin1String("via"), issued.via},
            {QLatin1String("issued_at"), issued.issuedAt},
            {QLatin1String("expires_in_ms"), issued.expiresAtMs - now},
            {QLatin1String("active"), isLive(issued)}};
        if (issued.refresh)
            entry.insert(QLatin1String("counter"), issued.counter);
        tokens.append(entry);
    }
    return jsonResponse({{QLatin1String("tokens"), tokens}});
}

QHttpServerResponse FakeForgejo::fakeFailRefresh(const QHttpServerRequest &request)
{
    QJsonObject body;
    if (!controlBody(request, &body))
        return controlError(Status::BadRequest, QStringLiteral("body is not a JSON object"));
    if (!body.value(QLatin1String("enabled")).isBool())
        return controlError(Status::BadRequest, QStringLiteral("\"enabled\" is missing or not a boolean"));
    m_failRefresh = body.value(QLatin1String("enabled")).toBool();
    m_failRefreshError = body.value(QLatin1String("error")).toString(QStringLiteral("invalid_grant"));
    m_failRefreshDescription = body.value(QLatin1String("error_description"))
                                   .toString(QStringLiteral("refresh refused by /_fake/fail-refresh"));
    qCInfo(lcFakeForgejo).noquote() << "fail-refresh" << (m_failRefresh ? "on:" : "off")
                                    << m_failRefreshError;
    return jsonResponse(
        {{QLatin1String("enabled"), m_failRefresh}, {QLatin1String("error"), m_failRefreshError}});
}

// Tokens issued from now on live this long (tokens already out keep theirs).
QHttpServerResponse FakeForgejo::fakeAccessTtl(const QHttpServerRequest &request)
{
    QJsonObject body;
    if (!controlBody(request, &body))
        return controlError(Status::BadRequest, QStringLiteral("body is not a JSON object"));
    const QJsonValue seconds = body.value(QLatin1String("seconds"));
    if (!seconds.isDouble() || seconds.toDouble() < 0)
        return controlError(Status::BadRequest, QStringLiteral("\"seconds\" is missing or negative"));
    m_config.accessTtlSeconds = seconds.toInteger();
    // Optional: how long the token endpoint holds its answers (a slow Forgejo
    // widens the window in which two brokers could refresh at once).
    m_tokenAnswerDelayMs = int(body.value(QLatin1String("answer_delay_ms")).toInteger(m_tokenAnswerDelayMs));
    qCInfo(lcFakeForgejo) << "access tokens now live" << m_config.accessTtlSeconds << "s; token answers wait"
                          << m_tokenAnswerDelayMs << "ms";
    return jsonResponse({{QLatin1String("seconds"), m_config.accessTtlSeconds},
                         {QLatin1String("answer_delay_ms"), m_tokenAnswerDelayMs}});
}

QHttpServerResponse FakeForgejo::fakeExpireAll()
{
    const qint64 now = nowMs();
    int expired = 0;
    for (IssuedToken &token : m_tokens) {
        if (token.refresh || !isLive(token))
            continue;
        token.expiresAtMs = now;
        ++expired;
    }
    qCInfo(lcFakeForgejo) << "expired" << expired << "access tokens";
    return jsonResponse({{QLatin1String("expired"), expired}});
}

// Like a user revoking the application under Settings > Applications: the
// grant goes, and with it every code, access token and refresh token of it.
QHttpServerResponse FakeForgejo::fakeRevoke(const QHttpServerRequest &request)
{
    QJsonObject body;
    if (!controlBody(request, &body))
        return controlError(Status::BadRequest, QStringLiteral("body is not a JSON object"));
    const QString login = body.value(QLatin1String("login")).toString();
    const FakeUser *user = findUser(login);
    if (!user)
        return controlError(Status::NotFound, QStringLiteral("unknown user \"%1\"").arg(login));
    const int live = liveAccessTokens(user->id);
    const bool hadGrant = m_grants.remove(user->id) > 0;
    qCInfo(lcFakeForgejo).noquote() << "revoked the grant of" << user->login << "-" << live
                                    << "live access tokens die";
    return jsonResponse({{QLatin1String("login"), user->login},
                         {QLatin1String("had_grant"), hadGrant},
                         {QLatin1String("revoked_access_tokens"), live}});
}

bool FakeForgejo::isLive(const IssuedToken &token) const
{
    const auto grant = m_grants.constFind(token.userId);
    if (grant == m_grants.cend() || grant->id != token.grantId || nowMs() >= token.expiresAtMs)
        return false;
    if (token.refresh && m_config.invalidateRefreshTokens)
        return token.counter == grant->counter;
    return true;
}

const FakeUser *FakeForgejo::userForAccessToken(const QByteArray &token) const
{
    const auto it = m_tokens.constFind(token);
    if (token.isEmpty() || it == m_tokens.cend() || it->refresh || !isLive(*it))
        return nullptr;
    return findUser(it->userId);
}

int FakeForgejo::liveAccessTokens(qint64 userId) const
{
    return static_cast<int>(std::count_if(m_tokens.cbegin(), m_tokens.cend(), [&](const IssuedToken &token) {
        return !token.refresh && (userId < 0 || token.userId == userId) && isLive(token);
    }));
}

const FakeUser *FakeForgejo::findUser(const QString &login) const
{
    for (const FakeUser &user : m_config.users) {
        if (user.login == login)
            return &user;
    }
    return nullptr;
}

const FakeUser *FakeForgejo::findUser(qint64 id) const
{
    for (const FakeUser &user : m_config.users) {
        if (user.id == id)
            return &user;
    }
    return nullptr;
}

// OAuth2Application.ContainsRedirectURI for a confidential client: exact match
// except for case and one trailing "/". Public clients may also vary the port
// of an http loopback URI (RFC 8252 §7.3).
bool FakeForgejo::redirectUriRegistered(const QString &uri) const
{
    const auto normalised = [](QString s) {
        s = s.toLower();
        if (s.endsWith(QLatin1Char('/')))
            s.chop(1);
        return s;
    };
    const auto contains = [&](const QString &candidate) {
        const QString wanted = normalised(candidate);
        return std::any_of(m_config.redirectUris.cbegin(), m_config.redirectUris.cend(),
                           [&](const QString &registered) { return normalised(registered) == wanted; });
    };
    if (uri.isEmpty())
        return false;
    if (!m_config.confidential) {
        QUrl url(uri);
        if (url.scheme() == QLatin1String("http") && url.port() != -1 &&
            QHostAddress(url.host()).isLoopback()) {
            url.setPort(-1);
            if (contains(url.toString()))
                return true;
        }
    }
    return contains(uri);
}

bool FakeForgejo::secretMatches(const QString &secret) const
{
    return !secret.isEmpty() && constantTimeEquals(secret.toUtf8(), m_config.clientSecret);
}

QJsonObject FakeForgejo::userJson(const FakeUser &user) const
{
    const QString fullName = capitalised(user.login) + QStringLiteral(" Tester");
    return {{QLatin1String("id"), user.id},
            {QLatin1String("login"), user.login},
            {QLatin1String("login_name"), QString()},
            {QLatin1String("source_id"), 0},
            {QLatin1String("full_name"), fullName},
            {QLatin1String("email"), QString(user.login + QStringLiteral("@example.com"))},
            {QLatin1String("avatar_url"), QString(m_baseUrl + QStringLiteral("/avatars/") + user.login)},
            {QLatin1String("html_url"), QString(m_baseUrl + QStringLiteral("/") + user.login)},
            {QLatin1String("language"), QString()},
            {QLatin1String("is_admin"), false},
            {QLatin1String("last_login"), QLatin1String("2024-01-01T00:00:00Z")},
            {QLatin1String("created"), QLatin1String("2024-01-01T00:00:00Z")},
            {QLatin1String("restricted"), false},
            {QLatin1String("active"), true},
            {QLatin1String("prohibit_login"), false},
            {QLatin1String("location"), QString()},
            {QLatin1String("pronouns"), QString()},
            {QLatin1String("website"), QString()},
            {QLatin1String("description"), QString()},
            {QLatin1String("visibility"), QLatin1String("public")},
            {QLatin1String("followers_count"), 0},
            {QLatin1String("following_count"), 0},
            {QLatin1String("starred_repos_count"), 0},
            {QLatin1String("username"), user.login}};
}

} // namespace fmb::fake
