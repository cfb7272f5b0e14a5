#include "DiscoveryController.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QUrl>

#include "OAuthHttp.h"

namespace fmb {

DiscoveryController::DiscoveryController(const OAuthContext &context, QObject *parent)
    : OAuthController(context, parent)
{}

QList<HttpRoute> DiscoveryController::routes()
{
    QList<HttpRoute> routes;
    const QString prm = QStringLiteral("/.well-known/oauth-protected-resource");
    const QString resourcePath = QUrl(config().resource).path(QUrl::FullyEncoded);
    const Handler<DiscoveryController> resource = &DiscoveryController::handleProtectedResourceMetadata;
    routes.append(route(prm, resource));
    // RFC 9728 §3.1: the well-known segment goes between host and path.
    if (!resourcePath.isEmpty() && resourcePath != QLatin1String("/"))
        routes.append(route(prm + resourcePath, resource));

    const Handler<DiscoveryController> server = &DiscoveryController::handleServerMetadata;
    const QStringList discovery{QStringLiteral("/.well-known/oauth-authorization-server"),
                                QStringLiteral("/.well-known/openid-configuration")};
    const QString issuerPath = QUrl(config().publicUrl).path(QUrl::FullyEncoded);
    const bool issuerHasPath = !issuerPath.isEmpty() && issuerPath != QLatin1String("/");
    for (const QString &wellKnown : discovery) {
        routes.append(route(wellKnown, server));
        // RFC 8414 §3.1 path insertion, and OIDC's appended form, for an issuer with a path.
        if (issuerHasPath)
            routes.append(route(wellKnown + issuerPath, server));
    }
    if (issuerHasPath)
        routes.append(route(issuerPath + QStringLiteral("/.well-known/openid-configuration"), server));
    return routes;
}

QByteArray DiscoveryController::protectedResourceMetadata() const
{
    // RFC 9728 §2
    QJsonObject metadata{{QStringLiteral("resource"), config().resource},
                         {QStringLiteral("authorization_servers"), QJsonArray{m_context.issuer()}},
                         {QStringLiteral("bearer_methods_supported"), QJsonArray{QStringLiteral("header")}}};
    if (!config().scopes.isEmpty())
        metadata.insert(QStringLiteral("scopes_supported"), QJsonArray::fromStringList(config().scopes));
    return QJsonDocument(metadata).toJson(QJsonDocument::Compact);
}

QByteArray DiscoveryController::serverMetadata() const
{
    const QJsonArray authMethods{QStringLiteral("none"), QStringLiteral("client_secret_post"),
                                 QStringLiteral("client_secret_basic")};
    // RFC 8414 §2, RFC 9207 §3, the client ID metadata document draft §4.
    QJsonObject metadata{
        {QStringLiteral("issuer"), m_context.issuer()},
        {QStringLiteral("authorization_endpoint"), m_context.endpoint("/oauth/authorize")},
        {QStringLiteral("token_endpoint"), m_context.endpoint("/oauth/token")},
        {QStringLiteral("registration_endpoint"), m_context.endpoint("/oauth/register")},
        {QStringLiteral("revocation_endpoint"), m_context.endpoint("/oauth/revoke")},
        {QStringLiteral("response_types_supported"), QJsonArray{QStringLiteral("code")}},
        {QStringLiteral("response_modes_supported"), QJsonArray{QStringLiteral("query")}},
        {QStringLiteral("grant_types_supported"),
         QJsonArray{QStringLiteral("authorization_code"), QStringLiteral("refresh_token")}},
        // "none" first: Claude uses a metadata document only when "none" is offered.
        {QStringLiteral("token_endpoint_auth_methods_supported"), authMethods},
        {QStringLiteral("revocation_endpoint_auth_methods_supported"), authMethods},
        {QStringLiteral("code_challenge_methods_supported"), QJsonArray{QStringLiteral("S256")}},
        {QStringLiteral("client_id_metadata_document_supported"), true},
        {QStringLiteral("authorization_response_iss_parameter_supported"), true}};
    if (!config().scopes.isEmpty())
        metadata.insert(QStringLiteral("scopes_supported"), QJsonArray::fromStringList(config().scopes));
    return QJsonDocument(metadata).toJson(QJsonDocument::Compact);
}

void DiscoveryController::handleProtectedResourceMetadata(const QHttpServerRequest &request,
                                                          const HttpExchange &exchange)
{
    answer(request, exchange, protectedResourceMetadata());
}

void DiscoveryController::handleServerMetadata(const QHttpServerRequest &request,
                                               const HttpExchange &exchange)
{
    answer(request, exchange, serverMetadata());
}

void DiscoveryController::answer(const QHttpServerRequest &request, const HttpExchange &exchange,
                                 const QByteArray &metadata)
{
    if (!OAuthHttp::admitMethod(request, exchange, QHttpServerRequest::Method::Get, "GET, OPTIONS",
                                OAuthHttp::Audience::Client))
        return;
    OAuthHttp::sendJson(exchange, 200, metadata, {{"Cache-Control", "public, max-age=300"}});
}

} // namespace fmb
