// Generated from proto/src/*.rs by `UPDATE_BINDINGS=1 cargo test -p deskbeam-proto`. Do not edit.

export declare const INPUT_VERSION: 1;
export declare const INPUT_CHANNEL: "input";
export declare const MAX_INPUT_BYTES: 16384;
export declare const MAX_PASTE_CHARS: 4096;
export declare const CHAT_CHANNEL: "chat";
export declare const MAX_CHAT_CHARS: 1000;
export declare const MAX_CHAT_BYTES: 8192;

export type MouseButton = "left" | "middle" | "right" | "back" | "forward";
export type WheelMode = "pixel" | "line";
export type ViewerInput = { "t": "move", x: number, y: number, } | { "t": "button", b: MouseButton, down: boolean, } | { "t": "wheel", dx: number, dy: number, mode: WheelMode, } | { "t": "key", code: string, down: boolean, text?: string, } | { "t": "paste", text: string, } | { "t": "ping" } | { "t": "hello" } | { "t": "request_control" } | { "t": "release_control" };
export type ControlState = "free" | "pending" | "granted" | "taken";
export type AgentInput = { "t": "control", state: ControlState, can_request: boolean, 
/**
 * Label of the viewer holding control, if any.
 */
holder?: string, 
/**
 * Why it changed (denied, revoked by the host, …), for the viewer to show.
 */
reason?: string, } | { "t": "rejected", code: string, message: string, } | { "t": "pong" } | { "t": "closing", reason: string, };
export type ViewerChat = { "t": "say", text: string, } | { "t": "hello" };
export type ChatRole = "host" | "viewer";
export type AgentChat = { "t": "joined", name: string, } | { "t": "message", 
/**
 * Position in the conversation (1, 2, …), the same for every participant.
 */
seq: number, from: string, role: ChatRole, text: string, 
/**
 * When the agent relayed it, Unix milliseconds.
 */
at: number, 
/**
 * Whether this participant wrote it.
 */
mine: boolean, } | { "t": "rejected", code: string, message: string, };
export type ErrorDetail = { code: string, message: string, };
export type ErrorBody = { error: ErrorDetail, };
export type IceServer = { 
/**
 * `stun:host:port`, `turn:host:port?transport=udp|tcp`.
 */
urls: Array<string>, username?: string, credential?: string, };
export type IceServerList = { ice_servers: Array<IceServer>, 
/**
 * Unix seconds after which the TURN credentials no longer open a new allocation.
 */
expires_at: number, };
/** Every message on the input and chat channels carries the protocol version. */
export type Framed<T> = { v: 1 } & T;
