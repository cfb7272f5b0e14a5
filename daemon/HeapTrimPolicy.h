#pragma once

#include <chrono>

#include <QObject>
#include <QPointer>

class QTimer;

namespace fmb {

class SessionRegistry;

// Process policy, not session logic: after a wave of session ends (a mass
// eviction, the reaper after a busy hour) gives the freed heap back to the
// system once (base/HeapTrim), when the wave has settled and the deferred
// deletes have run. Watches the registry's signals; the registry knows
// nothing of it.
class HeapTrimPolicy final : public QObject {
    Q_OBJECT
public:
    struct Limits {
        int afterEnded = 256;                  // trim once this many fewer sessions are live; 0 = never
        std::chrono::milliseconds delay{1000}; // after the last of them has finished
    };

    HeapTrimPolicy(SessionRegistry *registry, Limits limits, QObject *parent = nullptr);
    ~HeapTrimPolicy() override;

private:
    [[nodiscard]] int live() const;
    void onSessionFinished();
    void trim();

    QPointer<SessionRegistry> m_registry;
    Limits m_limits;
    QTimer *m_timer = nullptr; // child
    int m_highWater = 0;       // most sessions live (open or stopping) since the last trim
};

} // namespace fmb
