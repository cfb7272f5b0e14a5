#pragma once

#include <QByteArray>
#include <QMetaType>
#include <QObject>
#include <QString>

namespace fmb {

struct ExitInfo {
    int exitCode = 0;
    bool crashed = false;       // killed by a signal
    bool failedToStart = false; // never ran (not found, not executable)
    bool unavailable = false;   // never ran for want of something that may come back (the token store)
    QString reason;             // for logs and error messages
};

// Where a session's JSON-RPC messages go: a child process today, perhaps a
// multi-tenant HTTP server later (ARCHITECTURE.md, "Later, not first").
// Lines are single JSON-RPC messages without the newline.
class Backend : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;
    ~Backend() override;

    // Starts asynchronously: never emits before it returns.
    virtual void start() = 0;
    // Queues one message; false when the backend is not running or its input
    // is over its limit (the caller answers the request with an error).
    [[nodiscard]] virtual bool write(const QByteArray &line) = 0;
    // Graceful stop; exited() follows. Safe to call more than once.
    virtual void stop() = 0;
    [[nodiscard]] virtual bool isRunning() const = 0;
    [[nodiscard]] virtual qint64 processId() const = 0;

Q_SIGNALS:
    void started();
    void lineReceived(const QByteArray &line);
    // The terminal signal: emitted exactly once, also when start fails.
    void exited(const fmb::ExitInfo &info);
};

} // namespace fmb

Q_DECLARE_METATYPE(fmb::ExitInfo)
