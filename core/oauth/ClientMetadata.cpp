#include "ClientMetadata.h"

#include <algorithm>

#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QSet>

namespace fmb {
namespace {

const QByteArray InvalidRedirectUri = QByteArrayLiteral("invalid_redirect_uri");
const QByteArray InvalidClientMetadata = QByteArrayLiteral("invalid_client_metadata");
const QByteArray InvalidClient = QByteArrayLiteral("invalid_client");

OAuthError invalid(const QByteArray &oauthError, const QString &message)
{
    return OAuthError{400, oauthError, message};
}

QString quoted(const QString &value, int limit = 200)
{
    QString shown = value.size() > limit ? value.left(limit) + QStringLiteral("…") : value;
    return QLatin1Char('"') + shown + QLatin1Char('"');
}

bool hasControlCharacters(const QString &text)
{
    return std::any_of(text.begin(), text.end(),
                       [](QChar c) { return c.category() == QChar::Other_Control; });
}

// Reads an optional array of strings; `present` tells whether the key was there.
Result<QStringList, OAuthError> stringArray(const QJsonObject &object, const QString &key,
                                            const QByteArray &oauthError, bool *present)
{
    const QJsonValue value = object.value(key);
    *present = !value.isUndefined() && !value.isNull();
    if (!*present)
        return QStringList();
    if (!value.isArray())
        return invalid(oauthError, QStringLiteral("%1 must be an array of strings").arg(key));
    QStringList out;
    const QJsonArray array = value.toArray();
    for (const QJsonValue &item : array) {
        if (!item.isString())
            return invalid(oauthError, QStringLiteral("%1 must be an array of strings").arg(key));
        out.append(item.toString());
    }
    return out;
}

// The fields registration and metadata documents share (RFC 7591 §2).
// `metadataError` is the error code for everything but the redirect URIs.
Result<ClientMetadata, OAuthError> parseCommon(const QJsonObject &object, const ClientMetadataLimits &limits,
                                               const QByteArray &uriError, const QByteArray &metadataError,
                                               bool allowSecrets)
{
    ClientMetadata metadata;
    bool present = false;

    Result<QStringList, OAuthError> uris =
        stringArray(object, QStringLiteral("redirect_uris"), uriError, &present);
    if (!uris)
        return uris.error();
    if (!present || uris.value().isEmpty())
        return invalid(uriError, QStringLiteral("redirect_uris is required and must not be empty"));
    if (uris.value().size() > limits.maxRedirectUris) {
        return invalid(uriError, QStringLiteral("redirect_uris has %1 entries; the limit is %2")
                                     .arg(uris.value().size())
                                     .arg(limits.maxRedirectUris));
    }
    for (const QString &uri : std::as_const(uris.value())) {
        if (Result<void, OAuthError> checked = checkRedirectUri(uri, limits); !checked)
            return invalid(uriError, checked.error().description);
        if (!metadata.redirectUris.contains(uri))
            metadata.redirectUris.append(uri);
    }

    const QJsonValue method = object.value(QStringLiteral("token_endpoint_auth_method"));
    if (!method.isUndefined() && !method.isNull()) {
        // A metadata document has no way to receive a secret: public only.
        const QStringList supported =
            allowSecrets ? QStringList{QStringLiteral("none"), QStringLiteral("client_secret_post"),
                                       QStringLiteral("client_secret_basic")}
                         : QStringList{QStringLiteral("none")};
        if (!method.isString() || !supported.contains(method.toString())) {
            return invalid(
                metadataError,
                QStringLiteral("token_endpoint_auth_method %1 is not supported (supported: %2)")
                    .arg(method.isString() ? quoted(method.toString()) : QStringLiteral("(not a string)"),
                         supported.join(QStringLiteral(", "))));
        }
        metadata.tokenEndpointAuthMethod = method.toString();
    }

    Result<QStringList, OAuthError> grants =
        stringArray(object, QStringLiteral("grant_types"), metadataError, &present);
    if (!grants)
        return grants.error();
    if (present) {
        static const QStringList supported{QStringLiteral("authorization_code"),
                                           QStringLiteral("refresh_token")};
        for (const QString &grant : std::as_const(grants.value())) {
            if (!supported.contains(grant)) {
                return invalid(metadataError, QStringLiteral("grant_types: %1 is not supported (only "
                                                             "authorization_code and refresh_token)")
                                                  .arg(quoted(grant)));
            }
        }
        if (!grants.value().contains(QLatin1String("authorization_code")))
            return invalid(metadataError, QStringLiteral("grant_types must include authorization_code"));
        metadata.grantTypes.clear();
        for (const QString &grant : std::as_const(grants.value())) {
            if (!metadata.grantTypes.contains(grant))
                metadata.grantTypes.append(grant);
        }
    }

    Result<QStringList, OAuthError> responses =
        stringArray(object, QStringLiteral("response_types"), metadataError, &present);
    if (!responses)
        return responses.error();
    if (present) {
        for (const QString &type : std::as_const(responses.value())) {
            if (type != QLatin1String("code")) {
                return invalid(
                    metadataError,
                    QStringLiteral("response_types: %1 is not supported (only \"code\")").arg(quoted(type)));
            }
        }
        if (responses.value().isEmpty())
            return invalid(metadataError, QStringLiteral("response_types must include \"code\""));
    }

    const QJsonValue name = object.value(QStringLiteral("client_name"));
    if (!name.isUndefined() && !name.isNull()) {
        if (!name.isString())
            return invalid(metadataError, QStringLiteral("client_name must be a string"));
        const QString text = name.toString().trimmed();
        if (text.size() > limits.maxNameLength) {
            return invalid(metadataError, QStringLiteral("client_name is %1 characters long; the limit is %2")
                                              .arg(text.size())
                                              .arg(limits.maxNameLength));
        }
        if (hasControlCharacters(text))
            return invalid(metadataError, QStringLiteral("client_name contains control characters"));
        metadata.clientName = text;
    }
    return metadata;
}

int defaultPort(const QString &scheme)
{
    if (scheme == QLatin1String("https"))
        return 443;
    if (scheme == QLatin1String("http"))
        return 80;
    return -1;
}

// The comparable form of a resource identifier, or empty when it is not one.
QString canonicalResource(const QString &text)
{
    const QUrl url(text.trimmed(), QUrl::StrictMode);
    if (!url.isValid() || url.isRelative() || url.hasFragment() || url.host().isEmpty() ||
        !url.userInfo().isEmpty()) {
        return {};
    }
    const QString scheme = url.scheme().toLower();
    QString path = url.path(QUrl::FullyEncoded);
    while (path.endsWith(QLatin1Char('/')))
        path.chop(1);
    return scheme + QStringLiteral("://") + url.host().toLower() + QLatin1Char(':') +
           QString::number(url.port(defaultPort(scheme))) + path +
           (url.hasQuery() ? QLatin1Char('?') + url.query(QUrl::FullyEncoded) : QString());
}

bool isLoopbackHttp(const QUrl &url)
{
    return url.isValid() && url.scheme().compare(QLatin1String("http"), Qt::CaseInsensitive) == 0 &&
           !url.host().isEmpty() && url.userInfo().isEmpty() && isLoopbackHost(url.host());
}

// "http://127.0.0.1" and "http://127.0.0.1/" name the same resource (RFC 3986 §6.2.3).
QString loopbackPath(const QUrl &url)
{
    const QString path = url.path(QUrl::FullyEncoded);
    return path.isEmpty() ? QStringLiteral("/") : path;
}

} // namespace

Result<void, OAuthError> checkRedirectUri(const QString &uri, const ClientMetadataLimits &limits)
{
    if (uri.size() > limits.maxUriLength) {
        return invalid(InvalidRedirectUri,
                       QStringLiteral("redirect URI is %1 characters long; the limit is %2")
                           .arg(uri.size())
                           .arg(limits.maxUriLength));
    }
    const QUrl url(uri, QUrl::StrictMode);
    if (!url.isValid() || url.isRelative() || (url.host().isEmpty() && url.path().isEmpty()))
        return invalid(InvalidRedirectUri,
                       QStringLiteral("redirect URI %1 is not an absolute URL").arg(quoted(uri)));
    if (uri.contains(QLatin1Char('#')))
        return invalid(InvalidRedirectUri,
                       QStringLiteral("redirect URI %1 has a fragment (RFC 6749 §3.1.2)").arg(quoted(uri)));
    if (!url.userInfo().isEmpty())
        return invalid(InvalidRedirectUri, QStringLiteral("redirect URI %1 has user info").arg(quoted(uri)));
    const QString scheme = url.scheme().toLower();
    if (scheme == QLatin1String("https") || scheme == QLatin1String("http")) {
        if (url.host().isEmpty())
            return invalid(InvalidRedirectUri,
                           QStringLiteral("redirect URI %1 has no host").arg(quoted(uri)));
        if (scheme == QLatin1String("https") || isLoopbackHost(url.host()))
            return {};
        return invalid(
            InvalidRedirectUri,
            QStringLiteral("redirect URI %1 uses http on a host that is not loopback; use https, or "
                           "http://127.0.0.1, http://localhost or http://[::1]")
                .arg(quoted(uri)));
    }
    // Schemes a browser runs or reads locally, and network protocols that
    // are no app's redirect: never a destination for an authorization code.
    static const QStringList refused{
        QStringLiteral("javascript"), QStringLiteral("data"),  QStringLiteral("file"),
        QStringLiteral("vbscript"),   QStringLiteral("about"), QStringLiteral("blob"),
        QStringLiteral("ftp"),        QStringLiteral("ws"),    QStringLiteral("wss")};
    if (refused.contains(scheme)) {
        return invalid(InvalidRedirectUri,
                       QStringLiteral("redirect URI %1 has scheme %2; use https, loopback http or an "
                                      "app's private-use scheme")
                           .arg(quoted(uri), quoted(url.scheme())));
    }
    return {}; // RFC 8252 §7.1: a native app's private-use scheme
}

bool redirectUriMatches(const QStringList &registered, const QString &requested)
{
    if (registered.contains(requested))
        return true;
    // RFC 8252 §7.3: the port of a loopback redirect is chosen at request time.
    const QUrl asked(requested, QUrl::StrictMode);
    if (!isLoopbackHttp(asked) || requested.contains(QLatin1Char('#')))
        return false;
    return std::any_of(registered.begin(), registered.end(), [&asked](const QString &uri) {
        const QUrl known(uri, QUrl::StrictMode);
        return isLoopbackHttp(known) && known.host() == asked.host() &&
               loopbackPath(known) == loopbackPath(asked) && known.hasQuery() == asked.hasQuery() &&
               known.query(QUrl::FullyEncoded) == asked.query(QUrl::FullyEncoded);
    });
}

Result<ClientMetadata, OAuthError> parseRegistration(const QJsonObject &request,
                                                     const ClientMetadataLimits &limits)
{
    return parseCommon(request, limits, InvalidRedirectUri, InvalidClientMetadata, true);
}

bool isMetadataDocumentUrl(const QString &clientId, bool allowHttp)
{
    return clientId.startsWith(QLatin1String("https://"), Qt::CaseInsensitive) ||
           (allowHttp && clientId.startsWith(QLatin1String("http://"), Qt::CaseInsensitive));
}

Result<QUrl, OAuthError> checkMetadataDocumentUrl(const QString &clientId, bool allowHttp)
{
    const QUrl url(clientId, QUrl::StrictMode);
    const QString scheme = url.scheme().toLower();
    if (!url.isValid() || url.isRelative() || url.host().isEmpty())
        return invalid(InvalidClient,
                       QStringLiteral("client_id %1 is not a valid URL").arg(quoted(clientId)));
    if (scheme != QLatin1String("https") && !(allowHttp && scheme == QLatin1String("http")))
        return invalid(InvalidClient, QStringLiteral("client_id %1 must use https").arg(quoted(clientId)));
    if (clientId.contains(QLatin1Char('#')))
        return invalid(InvalidClient, QStringLiteral("client_id %1 has a fragment").arg(quoted(clientId)));
    if (!url.userInfo().isEmpty())
        return invalid(InvalidClient, QStringLiteral("client_id %1 has user info").arg(quoted(clientId)));
    const QString path = url.path(QUrl::FullyEncoded);
    if (path.isEmpty() || path == QLatin1String("/"))
        return invalid(InvalidClient, QStringLiteral("client_id %1 has no path").arg(quoted(clientId)));
    const QStringList segments = path.split(QLatin1Char('/'));
    for (const QString &segment : segments) {
        if (segment == QLatin1String(".") || segment == QLatin1String("..")) {
            return invalid(InvalidClient,
                           QStringLiteral("client_id %1 has a dot path segment").arg(quoted(clientId)));
        }
    }
    return url;
}

Result<ClientMetadata, OAuthError> parseMetadataDocument(const QByteArray &document, const QString &clientId,
                                                         const ClientMetadataLimits &limits)
{
    QJsonParseError parseError;
    const QJsonDocument json = QJsonDocument::fromJson(document, &parseError);
    if (parseError.error != QJsonParseError::NoError || !json.isObject()) {
        return invalid(
            InvalidClient,
            QStringLiteral("the client metadata document at %1 is not a JSON object").arg(quoted(clientId)));
    }
    const QJsonObject object = json.object();
    const QJsonValue documentId = object.value(QStringLiteral("client_id"));
    if (!documentId.isString() || documentId.toString() != clientId) {
        return invalid(
            InvalidClient,
            QStringLiteral("the client metadata document's client_id %1 is not its URL %2")
                .arg(documentId.isString() ? quoted(documentId.toString()) : QStringLiteral("(missing)"),
                     quoted(clientId)));
    }
    if (object.contains(QStringLiteral("client_secret")) ||
        object.contains(QStringLiteral("client_secret_expires_at"))) {
        return invalid(InvalidClient, QStringLiteral("the client metadata document at %1 carries a client "
                                                     "secret, which the metadata document draft forbids")
                                          .arg(quoted(clientId)));
    }
    Result<ClientMetadata, OAuthError> metadata =
        parseCommon(object, limits, InvalidClient, InvalidClient, false);
    if (!metadata)
        return invalid(InvalidClient, QStringLiteral("the client metadata document at %1: %2")
                                          .arg(quoted(clientId), metadata.error().description));
    return metadata;
}

bool sameResource(const QString &a, const QString &b)
{
    const QString left = canonicalResource(a);
    return !left.isEmpty() && left == canonicalResource(b);
}

} // namespace fmb
