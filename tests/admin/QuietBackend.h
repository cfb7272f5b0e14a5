#pragma once

#include <QMetaObject>

#include "child/Backend.h"

namespace fmbtest {

// A backend without a process: a session made with it costs microseconds,
// so many are made within one millisecond.
class QuietBackend final : public fmb::Backend {
public:
    using fmb::Backend::Backend;
    void start() override
    {
        QMetaObject::invokeMethod(
            this,
            [this] {
                m_running = !m_stopped;
                if (m_running)
                    Q_EMIT started();
            },
            Qt::QueuedConnection);
    }
    bool write(const QByteArray &) override { return m_running; }
    void stop() override
    {
        if (m_stopped)
            return;
        m_stopped = true;
        m_running = false;
        QMetaObject::invokeMethod(
            this,
            [this] {
                fmb::ExitInfo info;
                info.reason = QStringLiteral("stopped");
                Q_EMIT exited(info);
            },
            Qt::QueuedConnection);
    }
    bool isRunning() const override { return m_running; }
    qint64 processId() const override { return 0; }

private:
    bool m_running = false;
    bool m_stopped = false;
};

} // namespace fmbtest
