#pragma once

#include <optional>

#include <QByteArray>
#include <QHash>
#include <QJsonObject>
#include <QJsonValue>
#include <QObject>
#include <QPointer>
#include <QString>

#include "base/Result.h"
#include "revision/RequestState.h"

class QTimer;

namespace fmb {

class Session;

// How long a parked call waits for its client's retry, and how many one
// user may have parked (issue 13; README "2026-07-28").
struct ParkingLimits {
    int ttlMs = 120000;
    int maxPerUser = 16;
};

// The 2026-07-28 calls of user children that wait for their client's input
// (basic/patterns/mrtr): the call stays in flight in the child while its
// client holds a requestState naming it. A retry takes the parked call (one
// use: every round gets a new id, so a replayed state names nothing); a call
// not taken within the lifetime is cancelled in the child. Main thread only.
class ParkedCalls final : public QObject {
    Q_OBJECT
public:
    // One parked call: where it runs and what its client was asked.
    struct Call {
        QString user;
        QString method;
        QString name;
        QPointer<Session> session;
        QJsonValue brokerId;                                        // the call's id in the child
        QJsonValue brokerToken = QJsonValue(QJsonValue::Undefined); // its progress token there
        QByteArray eventId;                                         // the asking event: resume after it
        QString key;                                                // the input request's key
        QJsonValue serverRequestId;                                 // the child's request
        QJsonObject inputRequest;                                   // method and params, as asked
    };

    explicit ParkedCalls(ParkingLimits limits, QObject *parent = nullptr);
    ~ParkedCalls() override;

    void setLimits(ParkingLimits limits) { m_limits = limits; }
    [[nodiscard]] const ParkingLimits &limits() const { return m_limits; }
    [[nodiscard]] int count() const { return int(m_calls.size()); }
    [[nodiscard]] int countOf(const QString &user) const;

    // Parks `call`; its requestState, or why not (the user's cap).
    [[nodiscard]] Result<QString> park(Call call);

    // The parked call `requestState` names, verified for `user` and the
    // retry's method and name, and no longer parked; or why not.
    [[nodiscard]] Result<Call, QString> take(const QString &requestState, const QString &user,
                                             const QString &method, const QString &name);

    // Ends a call nobody will resume: the server's request gets an error
    // (so nothing of it waits on), then the call notifications/cancelled.
    static void cancel(const Call &call, const QString &reason);

private:
    struct Entry {
        Call call;
        qint64 expiresMs = 0;
        QTimer *expiry = nullptr; // child; goes with the entry, so retries leave no timers behind
    };
    void expire(const QString &parkId);

    ParkingLimits m_limits;
    RequestStateSigner m_signer;   // a fresh key per broker process
    QHash<QString, Entry> m_calls; // by park id
};

} // namespace fmb
