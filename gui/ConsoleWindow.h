#pragma once

#include <array>
#include <functional>
#include <optional>
#include <utility>

#include <QAbstractItemView>
#include <QMainWindow>

#include "ActivityHistory.h"
#include "admin/AdminProtocol.h"
#include "admin/AdminTarget.h"

class QAction;
class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTabWidget;
class QTableView;
class QTimer;

namespace fmb {

class AdminClient;
class LiveChart;
class SessionTableModel;
class UserTableModel;

// The admin console's main window: live charts of the last minutes (from
// "info", polled), the broker's sessions, live from the admin socket
// (subscribe), with a token-expiry countdown, filtering, sorting and
// eviction; reconnects with backoff when the broker goes away.
class ConsoleWindow final : public QMainWindow {
    Q_OBJECT
public:
    // Asks a person to confirm; true to go ahead. Tests replace the dialog.
    using ConfirmFunction = std::function<bool(QWidget *parent, const QString &title, const QString &text)>;

    explicit ConsoleWindow(QWidget *parent = nullptr);
    ~ConsoleWindow() override;

    void setConfirmFunction(ConfirmFunction confirm) { m_confirm = std::move(confirm); }
    // Connects (and keeps reconnecting) to target.
    void connectTo(const AdminTarget &target);

    // The window's connection to the broker; a reply to a request sent on it
    // comes after everything the window asked before.
    [[nodiscard]] AdminClient *client() const { return m_client; }
    [[nodiscard]] SessionTableModel *model() const { return m_model; }
    [[nodiscard]] QSortFilterProxyModel *proxy() const { return m_proxy; }
    [[nodiscard]] QTableView *view() const { return m_view; }
    // The Users tab (issue 15): one row per user, with Evict and Revoke.
    [[nodiscard]] QTabWidget *tabs() const { return m_tabs; }
    [[nodiscard]] UserTableModel *userModel() const { return m_users; }
    [[nodiscard]] QTableView *userView() const { return m_userView; }
    void selectUser(const QString &user);
    [[nodiscard]] QLineEdit *filterEdit() const { return m_filter; }
    [[nodiscard]] QAction *evictAction() const { return m_evictAction; }
    [[nodiscard]] const ActivityHistory &history() const { return m_history; }
    [[nodiscard]] LiveChart *chart(ActivityHistory::Series series) const
    {
        return m_charts[std::size_t(series)];
    }
    [[nodiscard]] QAction *revokeAction() const { return m_revokeAction; }
    [[nodiscard]] QString connectionText() const;
    [[nodiscard]] QString infoText() const;
    [[nodiscard]] bool isConnected() const;

    // Full ids of the selected rows, in view order.
    [[nodiscard]] QStringList selectedSessionIds() const;
    void selectSessions(const QStringList &ids);

    // The text the confirmation names the sessions with: shortened ids and users.
    [[nodiscard]] QString evictConfirmationText(const QStringList &ids) const;

public Q_SLOTS:
    void evictSelected();
    void evictSelectedUser();
    // "Revoke access…" (issue 15): after a confirmation naming what goes, the
    // selected session's user loses their sessions, grants and tokens.
    void revokeSelectedUser();
    void showConnectDialog();
    void reconnectNow();
    void copySelectedIds();

Q_SIGNALS:
    // After each (re)connect, once the session list has arrived.
    void sessionsLoaded();
    // Each time an "info" answer has reached the charts.
    void activitySampled();
    void connectionChanged(bool connected);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void buildActions();
    void buildUi();
    // A table as both tabs show one: whole rows, sortable, compact, a context menu.
    [[nodiscard]] QTableView *newTable(const QString &objectName, const QString &accessibleName,
                                       QAbstractItemModel *model, QAbstractItemView::SelectionMode selection,
                                       int sortColumn);
    void startConnect();
    void onConnected();
    void onConnectionLost(const QString &reason, bool wasConnected);
    void onEvent(const fmb::AdminEvent &event);
    void requestInfo();
    void tick();
    void updateActions();
    void updateStatus();
    void showContextMenu(const QPoint &position);
    void showUserContextMenu(const QPoint &position);
    [[nodiscard]] bool usersTabShown() const;
    void evict(const EvictSelector &selector, int count);
    void updateCharts();
    // The first selected session's user and how many sessions they have;
    // null when nothing is selected or the window is not connected.
    [[nodiscard]] std::optional<std::pair<QString, int>> selectedUser() const;

    AdminClient *m_client = nullptr;
    SessionTableModel *m_model = nullptr;
    QSortFilterProxyModel *m_proxy = nullptr;
    QTableView *m_view = nullptr;
    QTabWidget *m_tabs = nullptr;
    UserTableModel *m_users = nullptr;
    QSortFilterProxyModel *m_userProxy = nullptr;
    QTableView *m_userView = nullptr;
    QLineEdit *m_filter = nullptr;
    QLabel *m_connectionLabel = nullptr;
    QLabel *m_infoLabel = nullptr;
    QTimer *m_tick = nullptr;
    QTimer *m_reconnect = nullptr;
    QTimer *m_infoRefresh = nullptr;
    ActivityHistory m_history;
    std::array<LiveChart *, std::size_t(ActivityHistory::Series::Count)> m_charts{};

    QAction *m_connectAction = nullptr;
    QAction *m_reconnectAction = nullptr;
    QAction *m_evictAction = nullptr;
    QAction *m_evictUserAction = nullptr;
    QAction *m_revokeAction = nullptr;
    QAction *m_copyAction = nullptr;
    QAction *m_findAction = nullptr;
    QAction *m_quitAction = nullptr;
    QAction *m_aboutAction = nullptr;

    ConfirmFunction m_confirm;
    AdminTarget m_target;
    bool m_haveTarget = false;
    DaemonInfo m_info;
    bool m_haveInfo = false;
    QString m_lastProblem;
    int m_attempt = 0;      // failed connects in a row: the backoff grows with it
    qint64 m_retryAtMs = 0; // wall clock of the next attempt; 0 when none is planned
};

} // namespace fmb
