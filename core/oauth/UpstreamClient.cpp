#include "UpstreamClient.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>

#include "FormEncoding.h"
#include "Logging.h"
#include "base/Redactor.h"

namespace fmb {
namespace {

// A token or user answer is a few hundred bytes; anything near this is not Forgejo.
constexpr qint64 MaxAnswerBytes = 1024 * 1024;

QString endpointName(const QUrl &url)
{
    return url.toString(QUrl::RemoveQuery | QUrl::RemoveFragment | QUrl::RemoveUserInfo);
}

// Forgejo answers every token error with 400 and one of RFC 6749 §5.2's
// codes; a spent or reused refresh token is "unauthorized_client" ("token
// was already used"), an unknown grant "invalid_grant".
bool meansDeadGrant(const QString &oauthError)
{
    return oauthError == QLatin1String("invalid_grant") ||
           oauthError == QLatin1String("unauthorized_client") ||
           oauthError == QLatin1String("invalid_client");
}

Result<UpstreamTokens> parseTokens(const QByteArray &body, const QUrl &url)
{
    const QJsonObject answer = QJsonDocument::fromJson(body).object();
    const QString accessToken = answer.value(QStringLiteral("access_token")).toString();
    if (accessToken.isEmpty()) {
        return Error{ErrorCode::InvalidArgument, endpointName(url),
                     QStringLiteral("the token answer has no access_token")};
    }
    const QString type = answer.value(QStringLiteral("token_type")).toString();
    if (!type.isEmpty() && type.compare(QLatin1String("bearer"), Qt::CaseInsensitive) != 0) {
        return Error{ErrorCode::InvalidArgument, endpointName(url),
                     QStringLiteral("the token answer has token_type \"%1\", not bearer").arg(type)};
    }
    UpstreamTokens tokens;
    tokens.accessToken = accessToken.toUtf8();
    tokens.refreshToken = answer.value(QStringLiteral("refresh_token")).toString().toUtf8();
    const QJsonValue expiresIn = answer.value(QStringLiteral("expires_in"));
    const qint64 seconds = expiresIn.isString() ? expiresIn.toString().toLongLong() : expiresIn.toInteger();
    if (seconds > 0)
        tokens.accessExpiresAt = QDateTime::currentDateTimeUtc().addSecs(seconds);
    return tokens;
}

Result<UpstreamUser> parseUser(const QByteArray &body, const QUrl &url)
{
    const QJsonObject answer = QJsonDocument::fromJson(body).object();
    UpstreamUser user;
    user.id = answer.value(QStringLiteral("id")).toInteger();
    user.login = answer.value(QStringLiteral("login")).toString();
    if (user.id <= 0 || user.login.isEmpty()) {
        return Error{ErrorCode::InvalidArgument, endpointName(url),
                     QStringLiteral("the user answer has no id and login")};
    }
    return user;
}

// What went wrong with a finished reply that did not give 200.
Error replyError(QNetworkReply *reply, const QByteArray &body)
{
    const QUrl url = reply->url();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status == 0) {
        return Error{
            ErrorCode::Unavailable, endpointName(url),
            QStringLiteral("%1 could not be reached: %2").arg(endpointName(url), reply->errorString())};
    }
    const QJsonObject answer = QJsonDocument::fromJson(body).object();
    const QString oauthError = answer.value(QStringLiteral("error")).toString();
    // error_description is the server's text about our request; it never holds our secrets.
    const QString description = answer.value(QStringLiteral("error_description")).toString().left(200);
    QString detail = QStringLiteral("%1 answered %2").arg(endpointName(url)).arg(status);
    if (!oauthError.isEmpty())
        detail += QStringLiteral(" %1").arg(oauthError);
    if (!description.isEmpty())
        detail += QStringLiteral(" (%1)").arg(description);
    if (status == 401 || status == 403 || (status == 400 && meansDeadGrant(oauthError)))
        return Error{ErrorCode::Unauthorized, endpointName(url), detail};
    if (status >= 500 || status == 408 || status == 429)
        return Error{ErrorCode::Unavailable, endpointName(url), detail};
    if (status >= 300 && status < 400) {
        return Error{
            ErrorCode::Unavailable, endpointName(url),
            detail + QStringLiteral(": redirects are not followed; configure the final URL (Location: %1)")
                         .arg(QString::fromUtf8(reply->rawHeader("Location")).left(200))};
    }
    return Error{ErrorCode::InvalidArgument, endpointName(url), detail};
}

} // namespace

UpstreamClient::UpstreamClient(UpstreamConfig config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_network(new QNetworkAccessManager(this))
{
    m_network->setTransferTimeout(m_config.timeoutMs);
    // A redirect of the token request would carry the client secret and the
    // code somewhere else: the configured URLs are final.
    m_network->setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
    m_network->setCookieJar(nullptr);
    Redactor::addSecret(m_config.clientSecret);
}

UpstreamClient::~UpstreamClient()
{
    Redactor::removeSecret(m_config.clientSecret);
}

QUrl UpstreamClient::authorizeUrl(const QString &state, const QString &codeChallenge) const
{
    QUrl url = m_config.authorizeUrl;
    Form::Fields fields = Form::parse(url.query(QUrl::FullyEncoded).toLatin1());
    fields.append({QStringLiteral("response_type"), QStringLiteral("code")});
    fields.append({QStringLiteral("client_id"), m_config.clientId});
    fields.append({QStringLiteral("redirect_uri"), m_config.redirectUri.toString(QUrl::FullyEncoded)});
    fields.append({QStringLiteral("state"), state});
    fields.append({QStringLiteral("code_challenge"), codeChallenge});
    fields.append({QStringLiteral("code_challenge_method"), QStringLiteral("S256")});
    url.setQuery(QString::fromLatin1(Form::encode(fields)), QUrl::StrictMode);
    return url;
}

namespace {

// Sends one request and calls `done` once with the body of a 200 answer or
// the error. The reply dies with the network manager.
void send(QNetworkAccessManager *network, QObject *context, QNetworkRequest request,
          const QByteArray *postBody, std::function<void(Result<QByteArray>)> done)
{
    request.setRawHeader("Accept", "application/json");
    request.setAttribute(QNetworkRequest::CookieLoadControlAttribute, QNetworkRequest::Manual);
    request.setAttribute(QNetworkRequest::CookieSaveControlAttribute, QNetworkRequest::Manual);
    QNetworkReply *reply = postBody ? network->post(request, *postBody) : network->get(request);
    auto oversized = std::make_shared<bool>(false);
    QObject::connect(reply, &QNetworkReply::downloadProgress, context,
                     [reply, oversized](qint64 received, qint64) {
                         if (received > MaxAnswerBytes && !*oversized) {
                             *oversized = true;
                             reply->abort();
                         }
                     });
    QObject::connect(reply, &QNetworkReply::finished, context, [reply, oversized, done = std::move(done)] {
        reply->deleteLater();
        if (*oversized) {
            done(Error{ErrorCode::InvalidArgument, endpointName(reply->url()),
                       QStringLiteral("%1 sent more than %2 bytes")
                           .arg(endpointName(reply->url()))
                           .arg(MaxAnswerBytes)});
            return;
        }
        const QByteArray body = reply->readAll();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (status == 200 && reply->error() == QNetworkReply::NoError) {
            done(body);
            return;
        }
        done(replyError(reply, body));
    });
}

// Calls `done` with `error` from the event loop (never before the caller returns).
template <typename T>
void failLater(QObject *context, std::function<void(Result<T>)> done, Error error)
{
    QTimer::singleShot(0, context, [done = std::move(done), error = std::move(error)] { done(error); });
}

} // namespace

void UpstreamClient::exchangeCode(const QString &code, const QString &codeVerifier, TokensCallback done)
{
    if (code.isEmpty() || codeVerifier.isEmpty()) {
        failLater<UpstreamTokens>(
            this, std::move(done),
            Error{ErrorCode::InvalidArgument, QStringLiteral("code"),
                  QStringLiteral("an upstream code exchange needs a code and a verifier")});
        return;
    }
    // client_secret_post: Forgejo reads the client credentials from the form
    // body first and falls back to Basic auth.
    const Form::Fields form{
        {QStringLiteral("grant_type"), QStringLiteral("authorization_code")},
        {QStringLiteral("code"), code},
        {QStringLiteral("redirect_uri"), m_config.redirectUri.toString(QUrl::FullyEncoded)},
        {QStringLiteral("code_verifier"), codeVerifier},
        {QStringLiteral("client_id"), m_config.clientId},
        {QStringLiteral("client_secret"), QString::fromUtf8(m_config.clientSecret)}};
    QNetworkRequest request(m_config.tokenUrl);
    request.setHeader(QNetworkRequest::ContentTypeHeader,
                      QByteArrayLiteral("application/x-www-form-urlencoded"));
    const QByteArray body = Form::encode(form);
    qCDebug(lcOAuth).noquote() << "exchanging an upstream code at" << endpointName(m_config.tokenUrl);
    const QUrl url = m_config.tokenUrl;
    send(m_network, this, request, &body, [url, done = std::move(done)](Result<QByteArray> answer) {
        if (!answer) {
            qCWarning(lcOAuth).noquote() << "upstream code exchange failed:" << answer.error().message;
            done(answer.error());
            return;
        }
        Result<UpstreamTokens> tokens = parseTokens(answer.value(), url);
        if (tokens)
            qCInfo(lcOAuth).noquote()
                << "upstream code exchanged; access token" << fingerprint(tokens.value().accessToken);
        done(std::move(tokens));
    });
}

void UpstreamClient::refresh(const QByteArray &refreshToken, TokensCallback done)
{
    if (refreshToken.isEmpty()) {
        failLater<UpstreamTokens>(this, std::move(done),
                                  Error{ErrorCode::Unauthorized, QStringLiteral("refresh_token"),
                                        QStringLiteral("the grant has no upstream refresh token")});
        return;
    }
    const Form::Fields form{{QStringLiteral("grant_type"), QStringLiteral("refresh_token")},
                            {QStringLiteral("refresh_token"), QString::fromUtf8(refreshToken)},
                            {QStringLiteral("client_id"), m_config.clientId},
                            {QStringLiteral("client_secret"), QString::fromUtf8(m_config.clientSecret)}};
    QNetworkRequest request(m_config.tokenUrl);
    request.setHeader(QNetworkRequest::ContentTypeHeader,
                      QByteArrayLiteral("application/x-www-form-urlencoded"));
    const QByteArray body = Form::encode(form);
    const QString old = fingerprint(refreshToken);
    const QUrl url = m_config.tokenUrl;
    send(m_network, this, request, &body, [url, old, done = std::move(done)](Result<QByteArray> answer) {
        if (!answer) {
            qCWarning(lcOAuth).noquote()
                << "upstream refresh of" << old << "failed:" << answer.error().message;
            done(answer.error());
            return;
        }
        Result<UpstreamTokens> tokens = parseTokens(answer.value(), url);
        if (tokens)
            qCInfo(lcOAuth).noquote() << "upstream refresh token" << old << "rotated; access token"
                                      << fingerprint(tokens.value().accessToken);
        done(std::move(tokens));
    });
}

void UpstreamClient::fetchUser(const QByteArray &accessToken, UserCallback done)
{
    if (accessToken.isEmpty()) {
        failLater<UpstreamUser>(this, std::move(done),
                                Error{ErrorCode::Unauthorized, QStringLiteral("access_token"),
                                      QStringLiteral("no upstream access token to identify the user with")});
        return;
    }
    QNetworkRequest request(m_config.userUrl);
    // Forgejo's API takes "token X" (and "Bearer X"); the docs use "token".
    request.setRawHeader("Authorization", "token " + accessToken);
    const QUrl url = m_config.userUrl;
    send(m_network, this, request, nullptr, [url, done = std::move(done)](Result<QByteArray> answer) {
        if (!answer) {
            qCWarning(lcOAuth).noquote() << "upstream user lookup failed:" << answer.error().message;
            done(answer.error());
            return;
        }
        done(parseUser(answer.value(), url));
    });
}

} // namespace fmb
