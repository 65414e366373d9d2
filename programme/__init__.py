"""The admin programme on real activity: online hours, peer recognition, candidates, monthly
assessments, rotation and the team's shape (管理员培养)."""
