#include "MetadataFetcher.h"

#include <QHostAddress>
#include <QHostInfo>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QTimer>

#include "Logging.h"

namespace fmb {
namespace {

QString shown(const QUrl &url)
{
    return url.toString(QUrl::RemoveUserInfo);
}

bool inAny(const QHostAddress &address, std::initializer_list<const char *> subnets)
{
    for (const char *subnet : subnets) {
        if (address.isInSubnet(QHostAddress::parseSubnet(QString::fromLatin1(subnet))))
            return true;
    }
    return false;
}

} // namespace

MetadataFetcher::MetadataFetcher(MetadataFetchConfig config, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_network(new QNetworkAccessManager(this))
{
    m_network->setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
    m_network->setTransferTimeout(int(m_config.timeout.count()));
    // A proxy would resolve the name itself and defeat the address check.
    m_network->setProxy(QNetworkProxy::NoProxy);
    m_network->setCookieJar(nullptr);
}

MetadataFetcher::~MetadataFetcher()
{
    for (const Job &job : std::as_const(m_jobs)) {
        if (job.lookupId >= 0)
            QHostInfo::abortHostLookup(job.lookupId);
    }
}

bool MetadataFetcher::isPublicAddress(const QHostAddress &address)
{
    if (address.isNull())
        return false;
    bool mapped = false;
    const quint32 v4 = address.toIPv4Address(&mapped);
    if (mapped) {
        const QHostAddress ipv4(v4);
        return !inAny(ipv4,
                      {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
                       "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
                       "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"});
    }
    return !inAny(address, {"::/128", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
                            "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8"});
}

void MetadataFetcher::fetch(const QUrl &url, Callback done)
{
    const quint64 id = ++m_nextId;
    Job &job = m_jobs[id];
    job.url = url;
    job.done = std::move(done);
    QTimer::singleShot(m_config.timeout, this, [this, id] {
        finish(id, Error{ErrorCode::Unavailable, shown(m_jobs.value(id).url),
                         QStringLiteral("fetching the client metadata document took longer than %1 ms")
                             .arg(m_config.timeout.count())});
    });
    if (url.host().isEmpty()) {
        QTimer::singleShot(0, this, [this, id] {
            finish(id, Error{ErrorCode::InvalidArgument, shown(m_jobs.value(id).url),
                             QStringLiteral("the client metadata document URL has no host")});
        });
        return;
    }
    job.lookupId = QHostInfo::lookupHost(url.host(), this, [this, id](const QHostInfo &info) {
        onResolved(id, info.addresses(), info.error() == QHostInfo::NoError ? QString() : info.errorString());
    });
}

void MetadataFetcher::onResolved(quint64 id, const QList<QHostAddress> &addresses, const QString &lookupError)
{
    auto job = m_jobs.find(id);
    if (job == m_jobs.end())
        return;
    job->lookupId = -1;
    const QString host = job->url.host();
    if (!lookupError.isEmpty() || addresses.isEmpty()) {
        finish(id,
               Error{ErrorCode::Unavailable, shown(job->url),
                     QStringLiteral("cannot resolve %1: %2")
                         .arg(host, lookupError.isEmpty() ? QStringLiteral("no addresses") : lookupError)});
        return;
    }
    if (!m_config.allowPrivateHosts) {
        for (const QHostAddress &address : addresses) {
            if (!isPublicAddress(address)) {
                qCWarning(lcOAuth).noquote()
                    << "refused to fetch the client metadata document" << shown(job->url) << ":" << host
                    << "resolves to" << address.toString();
                finish(id, Error{ErrorCode::InvalidArgument, shown(job->url),
                                 QStringLiteral("%1 resolves to %2, which is not a public address")
                                     .arg(host, address.toString())});
                return;
            }
        }
    }

    QNetworkRequest request(job->url);
    request.setRawHeader("Accept", "application/json");
    request.setAttribute(QNetworkRequest::CookieLoadControlAttribute, QNetworkRequest::Manual);
    request.setAttribute(QNetworkRequest::CookieSaveControlAttribute, QNetworkRequest::Manual);
    QNetworkReply *reply = m_network->get(request);
    job->reply = reply;
    const qint64 limit = m_config.maxBytes;
    auto tooBig = [this, id, reply, limit] {
        finish(id, Error{ErrorCode::InvalidArgument, shown(reply->url()),
                         QStringLiteral("the client metadata document is larger than %1 bytes").arg(limit)});
    };
    connect(reply, &QNetworkReply::metaDataChanged, this, [reply, limit, tooBig] {
        const QVariant length = reply->header(QNetworkRequest::ContentLengthHeader);
        if (length.isValid() && length.toLongLong() > limit)
            tooBig();
    });
    connect(reply, &QNetworkReply::downloadProgress, this, [limit, tooBig](qint64 received, qint64) {
        if (received > limit)
            tooBig();
    });
    connect(reply, &QNetworkReply::finished, this, [this, id, reply, limit] {
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (status == 0) {
            finish(id, Error{ErrorCode::Unavailable, shown(reply->url()),
                             QStringLiteral("cannot fetch the client metadata document: %1")
                                 .arg(reply->errorString())});
            return;
        }
        if (status != 200) {
            finish(id, Error{ErrorCode::InvalidArgument, shown(reply->url()),
                             QStringLiteral("fetching the client metadata document gave HTTP %1%2")
                                 .arg(status)
                                 .arg(status >= 300 && status < 400
                                          ? QStringLiteral(" (redirects are not followed)")
                                          : QString())});
            return;
        }
        if (reply->error() != QNetworkReply::NoError) {
            finish(id, Error{ErrorCode::Unavailable, shown(reply->url()),
                             QStringLiteral("cannot fetch the client metadata document: %1")
                                 .arg(reply->errorString())});
            return;
        }
        const QByteArray body = reply->read(limit + 1);
        if (body.size() > limit) {
            finish(id,
                   Error{ErrorCode::InvalidArgument, shown(reply->url()),
                         QStringLiteral("the client metadata document is larger than %1 bytes").arg(limit)});
            return;
        }
        finish(id, MetadataDocument{body, reply->rawHeader("Cache-Control"), reply->rawHeader("Expires"),
                                    reply->rawHeader("Date")});
    });
}

void MetadataFetcher::finish(quint64 id, Result<MetadataDocument> result)
{
    auto node = m_jobs.find(id);
    if (node == m_jobs.end())
        return; // answered already (time limit, size limit)
    Job job = std::move(node.value());
    m_jobs.erase(node);
    if (job.lookupId >= 0)
        QHostInfo::abortHostLookup(job.lookupId);
    if (job.reply) {
        job.reply->disconnect(this);
        job.reply->abort();
        job.reply->deleteLater();
    }
    if (job.done)
        job.done(std::move(result));
}

} // namespace fmb
