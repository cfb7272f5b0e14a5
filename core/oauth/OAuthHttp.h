#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QHttpServerRequest>
#include <QString>

#include "OAuthError.h"
#include "http/HttpExchange.h"
#include "http/HttpHeaders.h"

// What every OAuth endpoint answers with, written once: the request
// preamble (method, body size, media type) and the responses (JSON, OAuth
// error, HTML page, error page, redirect, redirect with an error).
namespace fmb::OAuthHttp {

// Who reads an endpoint's answers: an OAuth client (JSON, any origin may
// call: CORS) or the user's browser (HTML pages, never framed or cached).
enum class Audience { Client, Browser };

// Answers OPTIONS (the CORS preflight, for a Client endpoint) and 405 with
// Allow; true when the handler should go on.
[[nodiscard]] bool admitMethod(const QHttpServerRequest &request, const HttpExchange &exchange,
                               QHttpServerRequest::Methods methods, const QByteArray &allow,
                               Audience audience);

// What is wrong with a request body, for the endpoint to answer in its words.
enum class BodyFault { None, TooLarge, WrongMediaType };
// The body is checked against `maxBytes` first, then the Content-Type's
// media type against `mediaType`.
[[nodiscard]] BodyFault checkBody(const QHttpServerRequest &request, qint64 maxBytes,
                                  QByteArrayView mediaType);

// The JSON endpoints carry no cookies and no ambient authority, so any
// origin may call them (browser-based MCP clients do).
[[nodiscard]] Http::HeaderList corsHeaders();
// The consent and error pages: never framed (clickjacking), never cached,
// no scripts, and no Referer leaking the query to the client's site.
[[nodiscard]] Http::HeaderList pageHeaders();

// A complete answer with `headers` as they are.
void send(const HttpExchange &exchange, int status, Http::HeaderList headers, QByteArrayView body);
// application/json with the CORS headers, then `headers`.
void sendJson(const HttpExchange &exchange, int status, const QByteArray &json,
              Http::HeaderList headers = {});
// {"error", "error_description"}, uncached, with the error's status and headers.
void sendOAuthError(const HttpExchange &exchange, const OAuthError &error);
void sendPage(const HttpExchange &exchange, int status, const QByteArray &html,
              Http::HeaderList headers = {});
void sendErrorPage(const HttpExchange &exchange, int status, const QString &title, const QString &message,
                   Http::HeaderList headers = {});
void redirect(const HttpExchange &exchange, const QString &location, Http::HeaderList headers = {});

// Where an authorization request goes back to: the client's checked redirect URI.
struct ClientRedirect {
    QString clientId;
    QString redirectUri;
    QString state; // the client's; null when it sent none
};
// Back to the client with an OAuth error (RFC 6749 §4.1.2.1) and iss
// (RFC 9207, error responses too).
void redirectError(const HttpExchange &exchange, const QString &issuer, const ClientRedirect &to,
                   const QByteArray &error, const QString &description, Http::HeaderList headers = {});

// A header parameter value (RFC 6750 §3: no '"' or '\').
[[nodiscard]] QString quotedParameter(QString text);

} // namespace fmb::OAuthHttp
