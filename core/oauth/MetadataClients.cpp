#include "MetadataClients.h"

#include <QPointer>
#include <QUrl>

#include "ClientMetadata.h"
#include "HttpCaching.h"
#include "Logging.h"
#include "MetadataFetcher.h"
#include "store/StoreRunner.h"
#include "store/TokenStore.h"

namespace fmb {

MetadataClients::MetadataClients(const OAuthContext &context, QObject *parent)
    : QObject(parent)
    , m_context(context)
{
    const OAuthConfig &config = m_context.config();
    MetadataFetchConfig fetch;
    fetch.timeout = config.metadataTimeout;
    fetch.maxBytes = config.maxMetadataBytes;
    fetch.allowPrivateHosts = config.allowPrivateMetadataHosts;
    m_fetcher = new MetadataFetcher(fetch, this);
}

void MetadataClients::forgetStale()
{
    const QDateTime current = m_context.now();
    for (auto it = m_fresh.begin(); it != m_fresh.end();)
        it = current >= it.value() ? m_fresh.erase(it) : std::next(it);
}

void MetadataClients::resolve(const QString &clientId, std::function<void(Result<ClientRecord>)> done)
{
    Result<QUrl, OAuthError> url =
        checkMetadataDocumentUrl(clientId, m_context.config().allowPrivateMetadataHosts);
    if (!url) {
        done(Error{ErrorCode::InvalidArgument, clientId, url.error().description});
        return;
    }
    const auto fresh = m_fresh.constFind(clientId);
    if (fresh == m_fresh.constEnd() || m_context.now() >= fresh.value()) {
        fetch(clientId, url.value(), std::move(done));
        return;
    }
    m_context.stores().run<Result<ClientRecord>>(
        this, [clientId](TokenStore &store) { return store.findClient(clientId); },
        [this, clientId, url = url.value(), done = std::move(done)](const Result<ClientRecord> &stored) {
            if (stored && stored.value().kind == ClientKind::MetadataDocument)
                done(stored);
            else
                fetch(clientId, url, done);
        });
}

void MetadataClients::fetch(const QString &clientId, const QUrl &url,
                            std::function<void(Result<ClientRecord>)> done)
{
    QPointer<MetadataClients> self(this);
    m_fetcher->fetch(url, [self, clientId, done = std::move(done)](Result<MetadataDocument> document) {
        if (!self)
            return;
        if (!document) {
            qCInfo(lcOAuth).noquote()
                << "cannot fetch the client metadata document" << clientId << ":" << document.error().message;
            done(Error{document.error().code, clientId, document.error().message});
            return;
        }
        self->store(clientId, document.value(), done);
    });
}

void MetadataClients::store(const QString &clientId, const MetadataDocument &document,
                            const std::function<void(Result<ClientRecord>)> &done)
{
    Result<ClientMetadata, OAuthError> metadata = parseMetadataDocument(document.body, clientId);
    if (!metadata) {
        qCInfo(lcOAuth).noquote() << "refused the client metadata document" << clientId << ":"
                                  << metadata.error().description;
        done(Error{ErrorCode::InvalidArgument, clientId, metadata.error().description});
        return;
    }
    ClientRecord client;
    client.clientId = clientId;
    client.clientName = metadata.value().clientName;
    client.redirectUris = metadata.value().redirectUris;
    client.kind = ClientKind::MetadataDocument;
    // The statements run on the store's thread (issue 14).
    m_context.stores().run<Result<void>>(
        this,
        [this, client](TokenStore &store) -> Result<void> {
            Result<ClientRecord> existing = store.findClient(client.clientId);
            if (!existing && m_context.pendingClientsFull(store) > 0) {
                qCWarning(lcOAuth).noquote()
                    << "not keeping client" << client.clientId << ":" << m_context.config().maxPendingClients
                    << "registered clients have not completed an authorization yet";
                return Error{ErrorCode::Unavailable, client.clientId,
                             QStringLiteral("too many clients have not signed in yet; try again later")};
            }
            Result<void> saved = existing ? store.updateClient(client) : store.registerClient(client);
            if (!saved)
                qCWarning(lcOAuth).noquote()
                    << "cannot store client" << client.clientId << ":" << saved.error().message;
            return saved;
        },
        [this, client, document, done](const Result<void> &saved) {
            if (!saved) {
                done(saved.error());
                return;
            }
            remember(client, document);
            done(client);
        });
}

void MetadataClients::remember(const ClientRecord &client, const MetadataDocument &document)
{
    const OAuthConfig &config = m_context.config();
    const QString &clientId = client.clientId;
    if (m_fresh.size() >= config.maxPending)
        m_fresh.clear();
    const std::chrono::seconds lifetime = freshnessLifetime(
        document.cacheControl, document.expires, document.date, m_context.now(), config.metadataCache);
    m_fresh.insert(clientId, m_context.now().addSecs(lifetime.count()));
    qCInfo(lcOAuth).noquote() << "fetched the client metadata document" << clientId << "; fresh for"
                              << lifetime.count() << "s";
}

} // namespace fmb
