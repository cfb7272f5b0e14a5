#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QUrl>

#include "OAuthError.h"
#include "base/HostNames.h"
#include "base/Result.h"

// Validation of client metadata: RFC 7591 registration requests and OAuth
// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
// MCP 2025-11-25 "Client ID Metadata Documents"), redirect URIs and RFC 8707
// resource identifiers. Pure: no I/O.
//
// Errors are OAuth errors (status 400) with the RFC 7591 §3.2.2 code
// ("invalid_redirect_uri", "invalid_client_metadata", "invalid_client") and
// a description that names the field and the value.
namespace fmb {

struct ClientMetadataLimits {
    int maxRedirectUris = 10;
    int maxUriLength = 2000;
    int maxNameLength = 200;
};

// What the broker keeps of a client's metadata. PKCE is required of every
// client; a confidential one also authenticates at the token endpoint.
struct ClientMetadata {
    QString clientName = QLatin1String(""); // empty, never null: the store's column is NOT NULL
    QStringList redirectUris;
    // "none" (public), "client_secret_post" or "client_secret_basic" (RFC 7591 §2)
    QString tokenEndpointAuthMethod = QStringLiteral("none");
    QStringList grantTypes{QStringLiteral("authorization_code"), QStringLiteral("refresh_token")};
    QStringList responseTypes{QStringLiteral("code")};
};

// https with any host; http on a loopback host (127.0.0.1, localhost,
// [::1]) as OAuth 2.1 §1.5 and RFC 8252 §7.3 allow; or a native app's
// private-use scheme (RFC 8252 §7.1, e.g. cursor://…), which PKCE protects.
// Never a scheme that runs code or reads local data in a browser
// (javascript, data, file, vbscript, about, blob) or another network
// protocol (ftp, ws, wss). Absolute, no fragment, no user info. Error
// "invalid_redirect_uri".
[[nodiscard]] Result<void, OAuthError> checkRedirectUri(const QString &uri,
                                                        const ClientMetadataLimits &limits = {});

// Whether an authorization request's redirect_uri matches one of the
// client's. Exact string match, except for http on a loopback host, where
// the port is free (RFC 8252 §7.3, OAuth 2.1 §8.4.2): scheme, host (taken
// literally: localhost only matches localhost), path and query must match
// a registered loopback URI, with or without a port.
[[nodiscard]] bool redirectUriMatches(const QStringList &registered, const QString &requested);

// RFC 7591 §2 with the broker's policy: redirect_uris required;
// token_endpoint_auth_method "none" (the default), "client_secret_post" or
// "client_secret_basic"; grant_types within authorization_code and
// refresh_token; response_types ["code"]; client_name optional.
[[nodiscard]] Result<ClientMetadata, OAuthError> parseRegistration(const QJsonObject &request,
                                                                   const ClientMetadataLimits &limits = {});

// Whether `clientId` names a client ID metadata document (an https URL; with
// `allowHttp`, also http, for tests against a local document server).
[[nodiscard]] bool isMetadataDocumentUrl(const QString &clientId, bool allowHttp);

// The URL rules of the metadata document draft §3: https, a host, a path
// other than "/", no fragment, no user info, no "." or ".." segments.
// Error "invalid_client".
[[nodiscard]] Result<QUrl, OAuthError> checkMetadataDocumentUrl(const QString &clientId, bool allowHttp);

// A fetched metadata document: valid JSON object, "client_id" exactly equal
// to the URL it came from, redirect_uris present and valid, no client secret
// and token_endpoint_auth_method "none" (the draft forbids shared secrets).
// Error "invalid_client".
[[nodiscard]] Result<ClientMetadata, OAuthError>
parseMetadataDocument(const QByteArray &document, const QString &clientId,
                      const ClientMetadataLimits &limits = {});

// RFC 8707 resource identifiers compared the way the MCP spec asks: scheme
// and host case-insensitive, default port and a trailing slash ignored. A
// value with a fragment, or not absolute, never matches.
[[nodiscard]] bool sameResource(const QString &a, const QString &b);

} // namespace fmb
