"""What each tool returns: the structured half of a tool result (its output schema).

These models are the contract with agents, so every field says what it is.
Each result also carries `message`, the short human text.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from nemovideo_mcp.errors import ErrorCode
from nemovideo_mcp.text.timeline import TrackSummary, VideoFormat

JobStatus = Literal["running", "succeeded", "failed", "cancelled", "interrupted"]


class ErrorInfo(BaseModel):
    code: ErrorCode = Field(description="Machine-readable error code, e.g. no_credits, plan_limit, unsupported_file.")
    message: str = Field(description="What went wrong and what to do, in words to show the user.")
    backend_code: int | None = Field(default=None, description="The backend's numeric code (1001, 2001...).")


class NextStep(BaseModel):
    tool: Literal["generate", "upload", "state", "credits", "export"]
    arguments: dict[str, Any] = Field(default_factory=dict)
    say: str = Field(description="A sentence the agent can show its user about this step.")


class JobInfo(BaseModel):
    job_id: str
    kind: Literal["generate", "export"]
    status: JobStatus
    stage: str = Field(description="What is happening now, in words.")
    progress: float | None = Field(default=None, description="0-100 when known.")
    elapsed_s: float


class _Result(BaseModel):
    message: str = Field(description="Short human-readable summary of the result.")
    error: ErrorInfo | None = None
    notices: list[str] = Field(default_factory=list, description="Things to tell the user once (e.g. a new session).")


class TimelineView(BaseModel):
    summary: str = Field(description="E.g. Timeline (2 tracks): 1. Video: intro (0-10s) 2. BGM: Lo-fi (0-10s, 35%)")
    tracks: list[TrackSummary] = Field(default_factory=list)
    export_ready: bool = False
    format: VideoFormat | None = Field(default=None, description="Resolution, aspect and frame rate of the output.")


class CreditsResult(_Result):
    available: int | None = None
    frozen: int | None = Field(default=None, description="Held by running jobs.")
    total: int | None = None
    anonymous: bool | None = None
    register_url: str | None = Field(default=None, description="Where an anonymous user registers to keep going.")


class UploadedItem(BaseModel):
    source: str
    filename: str | None = None
    type: str | None = Field(default=None, description="video, image or audio")
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    url: str | None = None


class UploadResult(_Result):
    status: Literal["succeeded", "failed"] = "succeeded"
    files: list[UploadedItem] = Field(default_factory=list)
    refused: list[ErrorInfo] = Field(default_factory=list, description="Sources refused before sending, with why.")


class ExportResult(_Result):
    status: JobStatus
    job_id: str | None = None
    stage: str | None = None
    progress: float | None = None
    path: str | None = Field(default=None, description="Where the MP4 was saved on this machine.")
    url: str | None = Field(default=None, description="Download URL of the render (may expire).")
    resource_uri: str | None = Field(default=None, description="MCP resource with the MP4 (resources/read).")
    size_bytes: int | None = None
    render_id: str | None = None
    reused_from: str | None = Field(
        default=None, description="Set when the timeline was unchanged: the earlier export job whose render was reused."
    )
    elapsed_s: float | None = None
    # A small JPEG of a few frames, sent as an image block beside the text (never in the structured half).
    preview_jpeg: bytes | None = Field(default=None, exclude=True)


class GenerateResult(_Result):
    status: JobStatus
    job_id: str | None = None
    stage: str | None = None
    reply: str = Field(default="", description="The backend's reply, with GUI instructions turned into actions.")
    changes: list[str] = Field(default_factory=list, description="What changed on the timeline, in words.")
    timeline_changed: bool | None = Field(
        default=None, description="False when the turn left the timeline exactly as it was (the reply says why)."
    )
    timeline: TimelineView | None = None
    next_steps: list[NextStep] = Field(default_factory=list)
    routed_to: Literal["export", "credits", "state", "upload"] | None = Field(
        default=None, description="Set when the instruction was a direct action and no generation was spent."
    )
    export: ExportResult | None = None
    credits: CreditsResult | None = None
    upload: UploadResult | None = None
    elapsed_s: float | None = None


class StateResult(_Result):
    timeline: TimelineView | None = None
    draft: dict[str, Any] | None = Field(default=None, description="The raw draft (short keys t/tt/sg/d/m).")
    jobs: list[JobInfo] = Field(default_factory=list, description="Background jobs of this server.")
    job: GenerateResult | ExportResult | None = Field(default=None, description="The job asked for with job_id.")
    media: list[UploadedItem] = Field(
        default_factory=list, description="Media uploaded to this project (generate may use any of it)."
    )
