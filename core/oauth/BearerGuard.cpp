#include "BearerGuard.h"

#include <QUrl>

#include "ClientMetadata.h"
#include "FormEncoding.h"
#include "Logging.h"
#include "OAuthHttp.h"
#include "base/Metrics.h"
#include "store/StoreRunner.h"
#include "store/TokenHash.h"
#include "store/TokenStore.h"

namespace fmb {
namespace {

// RFC 6750 §2.1 b64token.
bool isB64Token(QByteArrayView value)
{
    if (value.isEmpty() || value.size() > 4096)
        return false;
    qsizetype i = 0;
    for (; i < value.size(); ++i) {
        const char c = value[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_' || c == '~' || c == '+' || c == '/'))
            break;
    }
    if (i == 0)
        return false;
    for (; i < value.size(); ++i) {
        if (value[i] != '=')
            return false;
    }
    return true;
}

} // namespace

BearerGuard::BearerGuard(const OAuthContext &context)
    : m_context(context)
    , m_facts(std::make_shared<const Facts>(
          Facts{context.config().resource, context.resourceMetadataUrl(), context.config().scopes}))
{}

QByteArray BearerGuard::challenge(const QString &error, const QString &description) const
{
    return challenge(*m_facts, error, description);
}

QByteArray BearerGuard::challenge(const Facts &facts, const QString &error, const QString &description)
{
    using OAuthHttp::quotedParameter;
    QStringList parts;
    if (!error.isEmpty()) {
        parts << QStringLiteral("error=") + quotedParameter(error);
        if (!description.isEmpty())
            parts << QStringLiteral("error_description=") + quotedParameter(description);
    }
    parts << QStringLiteral("resource_metadata=") + quotedParameter(facts.resourceMetadataUrl);
    if (!facts.scopes.isEmpty())
        parts << QStringLiteral("scope=") + quotedParameter(facts.scopes.join(QLatin1Char(' ')));
    return (QStringLiteral("Bearer ") + parts.join(QStringLiteral(", "))).toUtf8();
}

AuthVerdict BearerGuard::authenticate(const QHttpServerRequest &request) const
{
    // OAuth 2.1 §5.1.2 / MCP: access tokens never in the URI.
    const Form::Fields query = Form::parse(request.url().query(QUrl::FullyEncoded).toLatin1());
    if (!Form::value(query, u"access_token").isNull()) {
        qCInfo(lcOAuth) << "refused an access token in the query string from"
                        << request.remoteAddress().toString();
        return AuthFailure{
            ErrorCode::InvalidArgument,
            challenge(QStringLiteral("invalid_request"),
                      QStringLiteral("access tokens are not accepted in the query string")),
            QStringLiteral("Bad Request: send the access token in the Authorization header, not in the "
                           "query string")};
    }
    const QByteArray header = request.value("authorization").trimmed();
    if (header.size() < 7 || header.first(7).compare("bearer ", Qt::CaseInsensitive) != 0) {
        return AuthFailure{ErrorCode::Unauthorized, challenge({}, {}),
                           QStringLiteral("Unauthorized: a bearer token is required")};
    }
    const QByteArray token = header.mid(7).trimmed();
    if (!isB64Token(token)) {
        return AuthFailure{
            ErrorCode::Unauthorized,
            challenge(QStringLiteral("invalid_token"), QStringLiteral("the bearer token is malformed")),
            QStringLiteral("Unauthorized: the bearer token is malformed")};
    }
    const TokenHash hash = TokenHash::of(token);
    if (std::optional<TokenRecord> cached = m_context.cachedAccessToken(hash)) {
        metrics::add(metrics::Counter::BearerChecksCached);
        return answer(*m_facts, hash, *cached);
    }
    metrics::add(metrics::Counter::BearerChecksStore);
    // Not confirmed lately (another broker issued it, or it sat unused): one
    // read, on the store thread, whose answer also fills the cache.
    return AuthVerdict::later([stores = &m_context.stores(), facts = m_facts,
                               hash](QObject *context, std::function<void(AuthResult)> done) {
        stores->run<Result<TokenRecord>>(
            context, [hash](TokenStore &store) { return store.findAccessToken(hash); },
            [facts, hash, done = std::move(done)](const Result<TokenRecord> &record) {
                done(answer(*facts, hash, record));
            });
    });
}

AuthResult BearerGuard::answer(const Facts &facts, const TokenHash &hash, const Result<TokenRecord> &record)
{
    if (!record) {
        if (record.error().code != ErrorCode::Unauthorized) {
            // A database outage is logged once by the store, not once per request.
            if (record.error().code == ErrorCode::Unavailable)
                qCDebug(lcOAuth).noquote()
                    << "cannot check access token" << hash.fingerprint() << ":" << record.error().message;
            else
                qCWarning(lcOAuth).noquote()
                    << "cannot check access token" << hash.fingerprint() << ":" << record.error().message;
            return AuthFailure{
                ErrorCode::Unavailable, {}, QStringLiteral("Service Unavailable: the token store failed")};
        }
        qCDebug(lcOAuth).noquote() << "refused access token" << hash.fingerprint() << ":"
                                   << record.error().message;
        return AuthFailure{ErrorCode::Unauthorized,
                           challenge(facts, QStringLiteral("invalid_token"), record.error().message),
                           QStringLiteral("Unauthorized: %1").arg(record.error().message)};
    }
    if (!sameResource(record.value().resource, facts.resource)) {
        qCInfo(lcOAuth).noquote() << "refused access token" << hash.fingerprint() << "issued for resource"
                                  << record.value().resource;
        const QString why = QStringLiteral("the access token was issued for another resource");
        return AuthFailure{ErrorCode::Unauthorized, challenge(facts, QStringLiteral("invalid_token"), why),
                           QStringLiteral("Unauthorized: %1").arg(why)};
    }
    return SessionOwner{record.value().userLogin, record.value().grantId, record.value().expiresAt};
}

} // namespace fmb
