#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QUrl>

#include "base/HostNames.h"
#include "base/Result.h"

// Validation of client metadata: RFC 7591 registration requests and OAuth
// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
// MCP 2025-11-25 "Client ID Metadata Documents"), redirect URIs and RFC 8707
// resource identifiers. Pure: no I/O.
//
// Errors are InvalidArgument with the OAuth error code as subject
// ("invalid_redirect_uri", "invalid_client_metadata", "invalid_client") and
// a message that names the field and the value.
namespace fmb {

struct ClientMetadataLimits {
    int maxRedirectUris = 10;
    int maxUriLength = 2000;
    int maxNameLength = 200;
};

// What the broker keeps of a client's metadata. Every client is public:
// token_endpoint_auth_method "none", PKCE required.
struct ClientMetadata {
    QString clientName = QLatin1String(""); // empty, never null: the store's column is NOT NULL
    QStringList redirectUris;
    QStringList grantTypes{QStringLiteral("authorization_code"), QStringLiteral("refresh_token")};
    QStringList responseTypes{QStringLiteral("code")};
};

// https with any host, or http on a loopback host (127.0.0.1, localhost,
// [::1]) as OAuth 2.1 §1.5 and RFC 8252 §7.3 allow; absolute, no fragment,
// no user info. Subject "invalid_redirect_uri".
[[nodiscard]] Result<void> checkRedirectUri(const QString &uri, const ClientMetadataLimits &limits = {});

// RFC 7591 §2 with the broker's policy: redirect_uris required; only
// token_endpoint_auth_method "none" (absent means "none" too: the broker
// issues no client secrets); grant_types within authorization_code and
// refresh_token; response_types ["code"]; client_name optional.
[[nodiscard]] Result<ClientMetadata> parseRegistration(const QJsonObject &request,
                                                       const ClientMetadataLimits &limits = {});

// Whether `clientId` names a client ID metadata document (an https URL; with
// `allowHttp`, also http, for tests against a local document server).
[[nodiscard]] bool isMetadataDocumentUrl(const QString &clientId, bool allowHttp);

// The URL rules of the metadata document draft §3: https, a host, a path
// other than "/", no fragment, no user info, no "." or ".." segments.
// Subject "invalid_client".
[[nodiscard]] Result<QUrl> checkMetadataDocumentUrl(const QString &clientId, bool allowHttp);

// A fetched metadata document: valid JSON object, "client_id" exactly equal
// to the URL it came from, redirect_uris present and valid, no client secret
// and no secret-based authentication (the draft forbids shared secrets).
// Subject "invalid_client".
[[nodiscard]] Result<ClientMetadata> parseMetadataDocument(const QByteArray &document,
                                                           const QString &clientId,
                                                           const ClientMetadataLimits &limits = {});

// RFC 8707 resource identifiers compared the way the MCP spec asks: scheme
// and host case-insensitive, default port and a trailing slash ignored. A
// value with a fragment, or not absolute, never matches.
[[nodiscard]] bool sameResource(const QString &a, const QString &b);

} // namespace fmb
