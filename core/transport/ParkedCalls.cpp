#include "ParkedCalls.h"

#include <QDateTime>
#include <QMetaEnum>
#include <QRandomGenerator>
#include <QTimer>

#include "Logging.h"
#include "jsonrpc/JsonRpc.h"
#include "session/Session.h"

namespace fmb {
namespace {

// 128 random bits: a park id is never guessed, even apart from the MAC.
QString newParkId()
{
    quint32 words[4];
    QRandomGenerator::system()->generate(std::begin(words), std::end(words));
    return QString::fromLatin1(
        QByteArray(reinterpret_cast<const char *>(words), sizeof(words)).toHex()); // NOLINT
}

void postTo(Session *session, const QJsonObject &message)
{
    (void)session->post({classify(message)}, false, nullptr);
}

} // namespace

ParkedCalls::ParkedCalls(ParkingLimits limits, QObject *parent)
    : QObject(parent)
    , m_limits(limits)
{}

ParkedCalls::~ParkedCalls() = default;

int ParkedCalls::countOf(const QString &user) const
{
    int count = 0;
    for (const Entry &entry : m_calls) {
        if (entry.call.user == user)
            ++count;
    }
    return count;
}

Result<QString> ParkedCalls::park(Call call)
{
    const int held = countOf(call.user);
    if (held >= m_limits.maxPerUser) {
        return Error{ErrorCode::LimitReached, call.user,
                     QStringLiteral("%1 calls of this user wait for input already; at most %2")
                         .arg(held)
                         .arg(m_limits.maxPerUser)};
    }
    const QString parkId = newParkId();
    const qint64 expiresMs = QDateTime::currentMSecsSinceEpoch() + m_limits.ttlMs;
    const QString state = m_signer.sign({call.user, call.method, call.name, parkId, expiresMs});
    qCDebug(lcHttp).noquote() << "parked" << call.method << call.brokerId.toString() << "for input"
                              << call.inputRequest.value(QLatin1String("method")).toString();
    auto *expiry = new QTimer(this);
    expiry->setSingleShot(true);
    connect(expiry, &QTimer::timeout, this, [this, parkId] { expire(parkId); });
    expiry->start(m_limits.ttlMs);
    m_calls.insert(parkId, Entry{std::move(call), expiresMs, expiry});
    return state;
}

Result<ParkedCalls::Call, QString> ParkedCalls::take(const QString &requestState, const QString &user,
                                                     const QString &method, const QString &name)
{
    const Result<RequestStateClaims, RequestStateRefusal> claims =
        m_signer.verify(requestState, user, method, name, QDateTime::currentMSecsSinceEpoch());
    if (!claims) {
        return QStringLiteral("requestState refused (%1)")
            .arg(QLatin1String(QMetaEnum::fromType<RequestStateRefusal>().valueToKey(int(claims.error()))));
    }
    auto node = m_calls.find(claims.value().parkId);
    if (node == m_calls.end())
        return QStringLiteral("requestState names no parked call (answered, expired or cancelled)");
    Call call = std::move(node->call);
    delete node->expiry;
    m_calls.erase(node);
    if (!call.session)
        return QStringLiteral("the MCP server of the parked call has ended");
    return call;
}

void ParkedCalls::expire(const QString &parkId)
{
    auto node = m_calls.find(parkId);
    if (node == m_calls.end())
        return; // taken by a retry
    const Call call = std::move(node->call);
    node->expiry->deleteLater(); // its timeout is what called us
    m_calls.erase(node);
    if (!call.session)
        return;
    qCInfo(lcHttp).noquote() << "a" << call.method << "call of" << call.user << "waited" << m_limits.ttlMs
                             << "ms for its client's input; cancelled";
    cancel(call, QStringLiteral("the client did not retry with its input within %1 ms").arg(m_limits.ttlMs));
}

void ParkedCalls::cancel(const Call &call, const QString &reason)
{
    if (!call.session)
        return;
    postTo(call.session, makeErrorResponse(call.serverRequestId, JsonRpcError::InternalError, reason));
    postTo(call.session,
           QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                       {QStringLiteral("method"), QStringLiteral("notifications/cancelled")},
                       {QStringLiteral("params"), QJsonObject{{QStringLiteral("requestId"), call.brokerId},
                                                              {QStringLiteral("reason"), reason}}}});
}

} // namespace fmb
