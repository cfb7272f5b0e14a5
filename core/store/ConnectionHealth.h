#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <QElapsedTimer>
#include <QString>

#include "base/Result.h"

namespace fmb {

// Whether a store's database connection is usable, and when to try again
// when it is not (issue 14: PostgreSQL goes away and comes back). While
// down, statements fail at once with Unavailable instead of waiting on the
// network; a reopen is tried when the backoff has passed (1 s, doubling up
// to 30 s). The outage and the recovery are logged once each. Use from the
// store's thread.
class ConnectionHealth final {
public:
    // Closes and opens the connection again and restores what lives on it
    // (LISTEN); an error when the database is still unreachable.
    using Reopen = std::function<Result<void>()>;

    static constexpr std::chrono::milliseconds FirstRetry{1000};
    static constexpr std::chrono::milliseconds MaxRetry{30000};

    ConnectionHealth(QString where, Reopen reopen);

    [[nodiscard]] bool isDown() const { return m_down; }
    // Before a statement: Unavailable while down, unless a reopen is due
    // and succeeds.
    [[nodiscard]] Result<void> ready();
    // A statement found the connection gone: down from now on.
    void lost(const QString &why);
    // Whole seconds until the next reopen attempt (at least 1): Retry-After.
    [[nodiscard]] int retryAfterSeconds() const;

private:
    [[nodiscard]] Error unavailable() const;

    QString m_where;
    Reopen m_reopen;
    bool m_down = false;
    int m_attempts = 0;
    std::chrono::milliseconds m_backoff{0};
    QElapsedTimer m_sinceDown;
    QElapsedTimer m_sinceAttempt;
};

} // namespace fmb
