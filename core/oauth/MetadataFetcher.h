#pragma once

#include <chrono>
#include <functional>

#include <QByteArray>
#include <QHash>
#include <QObject>
#include <QPointer>
#include <QUrl>

#include "base/Result.h"

class QHostAddress;
class QNetworkAccessManager;
class QNetworkReply;

namespace fmb {

struct MetadataFetchConfig {
    std::chrono::milliseconds timeout{5000}; // the whole fetch, DNS included
    qint64 maxBytes = 64 * 1024;
    // Tests serve documents from 127.0.0.1; a broker never should (SSRF).
    bool allowPrivateHosts = false;
};

// A fetched document with the headers that say how long it may be reused
// (see freshnessLifetime in HttpCaching.h).
struct MetadataDocument {
    QByteArray body;
    QByteArray cacheControl;
    QByteArray expires;
    QByteArray date;
};

// Fetches client ID metadata documents (the client_id URL) with the
// precautions of the metadata document draft §6.6 (SSRF): the host must
// resolve only to public addresses, redirects are not followed, no cookies or
// proxies, a size and a time limit. The address is checked when it is
// resolved; the network manager resolves again when it connects, so a DNS
// answer that changes within that moment is not caught.
//
// Errors: InvalidArgument for a refused address or answer (not 200, too
// big), Unavailable for DNS failures, network errors and the time limit.
class MetadataFetcher final : public QObject {
    Q_OBJECT
public:
    using Callback = std::function<void(Result<MetadataDocument>)>;

    explicit MetadataFetcher(MetadataFetchConfig config, QObject *parent = nullptr);
    ~MetadataFetcher() override;

    // Calls `done` exactly once, on this object's thread, never before
    // returning; not at all when this object is destroyed first.
    void fetch(const QUrl &url, Callback done);

    // Not loopback, private (RFC 1918, ULA), link-local, CGNAT, multicast,
    // unspecified, documentation or reserved; IPv4-mapped IPv6 is unwrapped.
    [[nodiscard]] static bool isPublicAddress(const QHostAddress &address);

private:
    struct Job {
        QUrl url;
        Callback done;
        int lookupId = -1;
        QPointer<QNetworkReply> reply;
    };

    void onResolved(quint64 id, const QList<QHostAddress> &addresses, const QString &lookupError);
    void finish(quint64 id, Result<MetadataDocument> result);

    MetadataFetchConfig m_config;
    QNetworkAccessManager *m_network = nullptr; // child
    QHash<quint64, Job> m_jobs;
    quint64 m_nextId = 0;
};

} // namespace fmb
