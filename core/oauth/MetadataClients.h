#pragma once

#include <functional>

#include <QDateTime>
#include <QHash>
#include <QObject>
#include <QString>
#include <QUrl>

#include "OAuthContext.h"
#include "base/Result.h"
#include "store/StoreRecords.h"

namespace fmb {

class MetadataFetcher;
struct MetadataDocument;

// Clients whose client_id is the URL of their metadata document (MCP
// 2025-11-25 "Client ID Metadata Documents"): fetched when /authorize names
// one, checked, kept in the store, and reused while the document is fresh
// (HTTP caching, within OAuthConfig::metadataCache). New ones count against
// the pending-client cap. The context must outlive this object.
class MetadataClients final : public QObject {
    Q_OBJECT
public:
    explicit MetadataClients(const OAuthContext &context, QObject *parent = nullptr);

    // The client for `clientId`, calling `done` once, never before this
    // returns: from the store while its document is fresh, else after a
    // fetch. Errors name the client id.
    void resolve(const QString &clientId, std::function<void(Result<ClientRecord>)> done);
    // Forgets when documents that went stale were fetched.
    void forgetStale();

private:
    void fetch(const QString &clientId, const QUrl &url, std::function<void(Result<ClientRecord>)> done);
    // Keeps the fetched client (on the store's thread), then remember()s it.
    void store(const QString &clientId, const MetadataDocument &document,
               const std::function<void(Result<ClientRecord>)> &done);

    // When the document of a stored client is fresh until.
    void remember(const ClientRecord &client, const MetadataDocument &document);

    const OAuthContext &m_context;
    MetadataFetcher *m_fetcher = nullptr; // child
    QHash<QString, QDateTime> m_fresh;    // client id -> until when its document is fresh
};

} // namespace fmb
