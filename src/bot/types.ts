/** Transport-free chat types: the console and Telegram both speak these. */
export type Role = 'viewer' | 'trader' | 'admin';

export interface ChatUser {
  userId: string;
  name: string;
}

export interface IncomingMessage {
  user: ChatUser;
  chatId: string;
  messageId?: string;
  text: string;
}

export interface Button {
  label: string;
  /** Opaque data returned when pressed, e.g. `confirm:<operation id>`. */
  data: string;
}

export interface Reply {
  text: string;
  buttons?: Button[];
  /** Tables: shown in a monospace block where the chat supports it. */
  monospace?: boolean;
}

export interface ButtonPress {
  user: ChatUser;
  chatId: string;
  data: string;
}

export interface ButtonAnswer {
  /** Short notice shown on the button (a toast in Telegram). */
  notice: string;
  /** A follow-up message in the chat, if any. */
  reply?: Reply;
  /** Whether the pressed message's buttons are spent and should be removed. */
  spent: boolean;
  /** The outcome of work the press started, when it is known (a confirmed open or close). */
  followUp?: Promise<Reply>;
}

/** Decides a user's role; null means a stranger who may change nothing. */
export type RoleResolver = (userId: string) => Role | null;

export const ROLE_RANK: Record<Role, number> = { viewer: 1, trader: 2, admin: 3 };
