#pragma once

#include <QList>

#include "admin/AdminTarget.h"

namespace fmb {

// The daemons the console connected to, newest first, kept in QSettings
// ("recentDaemons") for the Connect dialog.
class RecentTargets final {
public:
    static constexpr int MaxEntries = 10;

    [[nodiscard]] static QList<AdminTarget> load();
    // Moves target to the front (adding it) and saves.
    static void remember(const AdminTarget &target);
    static void forget(const AdminTarget &target);
};

} // namespace fmb
