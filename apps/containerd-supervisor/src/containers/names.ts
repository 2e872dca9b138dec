import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '@drydock/errors';

const validName = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Validates a user-given container name and strips the leading "/". */
export function normalizeName(name: string): string {
  if (!validName.test(name)) {
    throw new InvalidArgumentError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.replace(/^\//, '');
}

/** A new 64-hex container id whose short form is not all digits (Docker avoids those too). */
export function newContainerId(): string {
  for (;;) {
    const id = randomBytes(32).toString('hex');
    if (!/^\d{12}/.test(id)) return id;
  }
}

const left = ['admiring', 'adoring', 'agitated', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'brave', 'busy', 'charming', 'clever', 'cool', 'compassionate', 'confident', 'cranky', 'dazzling', 'determined', 'eager', 'ecstatic', 'elastic', 'elegant', 'epic', 'festive', 'focused', 'friendly', 'gallant', 'gifted', 'goofy', 'gracious', 'happy', 'hopeful', 'hungry', 'inspiring', 'intelligent', 'jolly', 'keen', 'kind', 'laughing', 'loving', 'lucid', 'magical', 'modest', 'musing', 'naughty', 'nervous', 'nice', 'nifty', 'nostalgic', 'objective', 'optimistic', 'peaceful', 'pedantic', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical', 'relaxed', 'reverent', 'romantic', 'sad', 'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'strange', 'suspicious', 'sweet', 'tender', 'thirsty', 'trusting', 'upbeat', 'vibrant', 'vigilant', 'wizardly', 'wonderful', 'xenodochial', 'youthful', 'zealous', 'zen'];
const right = ['albattani', 'archimedes', 'babbage', 'bardeen', 'bell', 'bohr', 'booth', 'borg', 'brown', 'cannon', 'carson', 'curie', 'darwin', 'dijkstra', 'einstein', 'euclid', 'euler', 'faraday', 'fermat', 'feynman', 'franklin', 'galileo', 'gauss', 'goldberg', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hodgkin', 'hopper', 'hypatia', 'johnson', 'kalam', 'keller', 'kepler', 'knuth', 'lamport', 'leakey', 'liskov', 'lovelace', 'mayer', 'mccarthy', 'meitner', 'mendel', 'morse', 'newton', 'nobel', 'noether', 'pare', 'pascal', 'pasteur', 'perlman', 'pike', 'poincare', 'ramanujan', 'ritchie', 'rubin', 'sammet', 'shannon', 'shockley', 'sinoussi', 'stonebraker', 'swanson', 'tesla', 'thompson', 'torvalds', 'turing', 'wilbur', 'wiles', 'williams', 'wozniak', 'wright', 'yalow', 'yonath'];

/** A random "adjective_scientist" name like dockerd's, made unique with a digit if needed. */
export function randomName(taken: (n: string) => boolean): string {
  for (let i = 0; ; i++) {
    const pick = (a: string[]) => a[Math.floor(Math.random() * a.length)];
    let n = `${pick(left)}_${pick(right)}`;
    if (i > 5) n += Math.floor(Math.random() * 10);
    if (!taken(n)) return n;
  }
}
