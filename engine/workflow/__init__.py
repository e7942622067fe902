"""The team workflow (`workflow:` in agents.yaml): a goal becomes tasks on a board.

goal -> the planner's tasks (create_tasks) -> the checker (validate_plan) -> the person
approves plan and new agents -> tasks run by order and dependencies -> submit_task ->
the reviewer (review_task) -> the QA command -> done, or blocked after max_attempts.

Every task change is one `task` event carrying the whole task record (see
engine.workflow.board.task_event_data); the board is the fold of them by task_id.
"""
