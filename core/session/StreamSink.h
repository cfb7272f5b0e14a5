#pragma once

#include <QByteArray>
#include <QObject>

namespace fmb {

// What a JSON answer says about its request; the transport picks the HTTP
// status from it (core never picks one).
enum class AnswerKind {
    Answered,         // the server's answer, a result or a JSON-RPC error
    InitializeFailed, // the backend could not start or answer initialize: no session was made
    // The backend could not start for want of something that may come back
    // (the token store): no session was made; try again later.
    InitializeUnavailable,
};

// One HTTP response that a session writes to: a POST waiting for its
// answer, or a GET's SSE stream. Implemented by the transport; the session
// only observes it (QPointer) — the sink goes away when its client does.
class StreamSink : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;
    ~StreamSink() override;

    // The whole answer as one JSON body; the response is complete afterwards.
    virtual void sendJson(AnswerKind kind, const QByteArray &body) = 0;
    // Starts the SSE response (status and headers) if it has not started.
    virtual void begin() = 0;
    // Starts the SSE response on first use, then writes one event. An empty
    // id writes no id line; retryMs >= 0 adds a retry field.
    virtual void sendEvent(const QByteArray &id, const QByteArray &data, int retryMs = -1) = 0;
    // Ends the response; nothing may be sent afterwards.
    virtual void end() = 0;
    // False once the client has gone or the response has ended.
    [[nodiscard]] virtual bool isOpen() const = 0;
};

} // namespace fmb
