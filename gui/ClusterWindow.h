#pragma once

#include <functional>

#include <QList>
#include <QMainWindow>

#include "admin/AdminTarget.h"

class QAction;
class QLabel;
class QTabWidget;
class QTableView;
class QTimer;

namespace fmb {

class AdminFleet;
class BrokerTableModel;
class FleetSessionModel;

// The console for several brokers at once (issue 14; several --admin-socket
// or --ssh): one Sessions table with a Broker column, refreshed every
// couple of seconds over an AdminFleet, eviction sent to the broker of each
// selected row, and a Brokers tab naming the brokers the database knows and
// those that stopped answering (stale heartbeat, or the admin target
// unreachable; unreachable targets are retried at each refresh).
class ClusterWindow final : public QMainWindow {
    Q_OBJECT
public:
    using ConfirmFunction = std::function<bool(QWidget *parent, const QString &title, const QString &text)>;

    explicit ClusterWindow(QWidget *parent = nullptr);
    ~ClusterWindow() override;

    void setConfirmFunction(ConfirmFunction confirm) { m_confirm = std::move(confirm); }
    void setRefreshInterval(int ms);
    void connectTo(const QList<AdminTarget> &targets);

    [[nodiscard]] AdminFleet *fleet() const { return m_fleet; }
    [[nodiscard]] FleetSessionModel *sessionModel() const { return m_sessions; }
    [[nodiscard]] BrokerTableModel *brokerModel() const { return m_brokers; }
    [[nodiscard]] QTableView *sessionView() const { return m_sessionView; }
    [[nodiscard]] QTabWidget *tabs() const { return m_tabs; }
    [[nodiscard]] QAction *evictAction() const { return m_evictAction; }
    [[nodiscard]] QString statusText() const;

public Q_SLOTS:
    void refresh();
    void evictSelected();

Q_SIGNALS:
    // After each refresh, once both tables hold the answers.
    void refreshed();

private:
    void updateActions();

    AdminFleet *m_fleet = nullptr;
    FleetSessionModel *m_sessions = nullptr;
    BrokerTableModel *m_brokers = nullptr;
    QTableView *m_sessionView = nullptr;
    QTableView *m_brokerView = nullptr;
    QTabWidget *m_tabs = nullptr;
    QLabel *m_status = nullptr;
    QTimer *m_timer = nullptr;
    QAction *m_evictAction = nullptr;
    QAction *m_refreshAction = nullptr;
    ConfirmFunction m_confirm;
    bool m_refreshing = false;
    bool m_closing = false; // set first in the destructor: the fleet's answers find nothing to update
};

} // namespace fmb
