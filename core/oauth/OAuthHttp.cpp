#include "OAuthHttp.h"

#include <QJsonDocument>
#include <QJsonObject>

#include "ConsentPage.h"
#include "FormEncoding.h"
#include "Logging.h"

namespace fmb::OAuthHttp {

bool admitMethod(const QHttpServerRequest &request, const HttpExchange &exchange,
                 QHttpServerRequest::Methods methods, const QByteArray &allow, Audience audience)
{
    const bool cors = audience == Audience::Client;
    if (cors && request.method() == QHttpServerRequest::Method::Options) {
        send(exchange, 204, corsHeaders(), {});
        return false;
    }
    if (methods.testFlag(request.method()))
        return true;
    const Http::HeaderList headers{{"Allow", allow}};
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
        sendPage(exchange, 405,
                 renderErrorPage(QStringLiteral("Method not allowed"),
                                 QStringLiteral("Use %1 here.").arg(QString::fromLatin1(allow))),
                 headers);
    }
    return false;
}

BodyFault checkBody(const QHttpServerRequest &request, qint64 maxBytes, QByteArrayView mediaType)
{
    if (request.body().size() > maxBytes)
        return BodyFault::TooLarge;
    if (Http::mediaType(request.value("content-type")) != mediaType)
        return BodyFault::WrongMediaType;
    return BodyFault::None;
}

Http::HeaderList corsHeaders()
{
    return {{"Access-Control-Allow-Origin", "*"},
            {"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
            {"Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version"},
            {"Access-Control-Expose-Headers", "WWW-Authenticate"},
            {"Access-Control-Max-Age", "600"}};
}

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

void send(const HttpExchange &exchange, int status, Http::HeaderList headers, QByteArrayView body)
{
    exchange.answer(status, std::move(headers), body);
}

void sendJson(const HttpExchange &exchange, int status, const QByteArray &json, Http::HeaderList headers)
{
    Http::HeaderList all{{"Content-Type", "application/json"}};
    all.append(corsHeaders());
    all.append(headers);
    send(exchange, status, all, json);
}

void sendOAuthError(const HttpExchange &exchange, const OAuthError &error)
{
    QJsonObject body{{QStringLiteral("error"), QString::fromLatin1(error.error)}};
    if (!error.description.isEmpty())
        body.insert(QStringLiteral("error_description"), error.description);
    Http::HeaderList headers{{"Cache-Control", "no-store"}, {"Pragma", "no-cache"}};
    headers.append(error.headers);
    sendJson(exchange, error.status, QJsonDocument(body).toJson(QJsonDocument::Compact), headers);
}

void sendPage(const HttpExchange &exchange, int status, const QByteArray &html, Http::HeaderList headers)
{
    Http::HeaderList all = pageHeaders();
    all.append(headers);
    send(exchange, status, all, html);
}

void sendErrorPage(const HttpExchange &exchange, int status, const QString &title, const QString &message,
                   Http::HeaderList headers)
{
    sendPage(exchange, status, renderErrorPage(title, message), std::move(headers));
}

void redirect(const HttpExchange &exchange, const QString &location, Http::HeaderList headers)
{
    exchange.redirect(location.toUtf8(), std::move(headers));
}

void redirectError(const HttpExchange &exchange, const QString &issuer, const ClientRedirect &to,
                   const QByteArray &error, const QString &description, Http::HeaderList headers)
{
    Form::Fields fields{{QStringLiteral("error"), QString::fromLatin1(error)}};
    if (!description.isEmpty())
        fields.append({QStringLiteral("error_description"), description});
    if (!to.state.isNull())
        fields.append({QStringLiteral("state"), to.state});
    fields.append({QStringLiteral("iss"), issuer});
    qCInfo(lcOAuth).noquote() << "authorization for client" << to.clientId << "ends with" << error << ":"
                              << description;
    redirect(exchange, Form::appendQuery(to.redirectUri, fields), std::move(headers));
}

QString quotedParameter(QString text)
{
    text.remove(QLatin1Char('"'));
    text.remove(QLatin1Char('\\'));
    return QLatin1Char('"') + text + QLatin1Char('"');
}

} // namespace fmb::OAuthHttp
