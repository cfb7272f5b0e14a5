#pragma once

#include <QJsonObject>
#include <QJsonValue>
#include <QPointer>
#include <QString>

#include "session/StreamSink.h"

namespace fmb {

class HttpSink;
class ParkedCalls;
class Session;

// The answer to one 2026-07-28 request that a user child serves (issue 13):
// takes what the session writes for the broker-owned request and writes the
// client's version to the request's HttpSink (its id, progress token and a
// result shaped for the revision, StatelessTranslation). A stream that
// closes before the answer cancels the request in the child
// (notifications/cancelled for the broker-owned id).
//
// A server request (sampling, elicitation, roots) for the call parks it
// (ParkedCalls) and answers input_required with a requestState, or -32021
// when the client's capabilities lack what it needs (2026-07-28 mrtr). The
// answer stays plain JSON until something is worth streaming.
//
// Lifetime: a child of its HttpSink, so it goes with the response; the
// session only observes it.
class StatelessSink final : public StreamSink {
    Q_OBJECT
public:
    struct Ids {
        QString method;
        QJsonValue clientId;
        QJsonValue brokerId;
        QJsonValue clientToken = QJsonValue(QJsonValue::Undefined); // the client's progress token, if any
        QJsonValue brokerToken = QJsonValue(QJsonValue::Undefined); // what the child saw instead
        QString user;                   // the principal a requestState is bound to
        QString name;                   // params.name or params.uri
        QJsonObject clientCapabilities; // as the request's _meta declares them
    };
    StatelessSink(HttpSink *http, Session *session, Ids ids, ParkedCalls *parking = nullptr);
    ~StatelessSink() override;

    void sendJson(AnswerKind kind, const QByteArray &body) override;
    void begin() override;
    void sendEvent(const QByteArray &id, const QByteArray &data, int retryMs = -1) override;
    void end() override;
    [[nodiscard]] bool isOpen() const override;

    // The session refused the request: nothing to cancel when the stream goes.
    void abandon() { m_answered = true; }

private:
    void onHttpFinished();
    [[nodiscard]] QByteArray clientAnswer(const QJsonObject &response) const;
    void onServerRequest(const QByteArray &eventId, const QJsonObject &request);
    // The client's last word: plain JSON, or the last event of a stream.
    void answerClient(const QByteArray &body);
    void startStream();
    void toChild(const QJsonObject &message);
    void cancelInChild(const QString &reason);

    QPointer<HttpSink> m_http;
    QPointer<Session> m_session;
    QPointer<ParkedCalls> m_parking;
    Ids m_ids;
    bool m_answered = false;
    bool m_streaming = false;
};

} // namespace fmb
