#pragma once

#include <QDialog>

#include "admin/AdminTarget.h"

class QLabel;
class QLineEdit;
class QListWidget;
class QRadioButton;
class QDialogButtonBox;

namespace fmb {

// "Connect to…": a local admin socket path or an ssh target, with the recent
// daemons (RecentTargets) to pick from.
class ConnectDialog final : public QDialog {
    Q_OBJECT
public:
    explicit ConnectDialog(const AdminTarget &current, QWidget *parent = nullptr);
    ~ConnectDialog() override;

    // Valid once the dialog was accepted.
    [[nodiscard]] AdminTarget target() const { return m_target; }

    void accept() override;

private:
    void showTarget(const AdminTarget &target);
    void updateEnabled();
    [[nodiscard]] Result<AdminTarget> entered() const;

    QRadioButton *m_localButton = nullptr;
    QRadioButton *m_sshButton = nullptr;
    QLineEdit *m_socketEdit = nullptr;
    QLineEdit *m_sshEdit = nullptr;
    QListWidget *m_recent = nullptr;
    QLabel *m_problem = nullptr;
    QDialogButtonBox *m_buttons = nullptr;
    AdminTarget m_target;
};

} // namespace fmb
