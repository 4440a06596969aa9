// Predict, then reveal (explain/questions.py): a question, its choices as buttons; a click on
// one marks it right or wrong, shows the right answer and the numbers behind it. All in the
// browser: answering sends nothing to the server. Text goes in as text, never as HTML.

export default function (component) {
  const { data, parentElement } = component;
  parentElement.__dalQuestionStop?.();
  const root = document.createElement('div');
  root.className = 'dal-question';
  const prompt = document.createElement('div');
  prompt.className = 'dal-question-prompt';
  prompt.textContent = `Predict: ${data.prompt}`;
  const choices = document.createElement('div');
  choices.className = 'dal-question-choices';
  const reveal = document.createElement('div');
  reveal.className = 'dal-question-reveal';
  reveal.hidden = true;
  const buttons = data.choices.map((text, k) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'dal-question-choice';
    button.textContent = text;
    button.onclick = () => answer(k);
    choices.appendChild(button);
    return button;
  });
  function answer(k) {
    const right = k === data.answer;
    buttons.forEach((b, m) => {
      b.disabled = true;
      if (m === data.answer) b.classList.add('dal-question-right');
      else if (m === k) b.classList.add('dal-question-wrong');
    });
    reveal.textContent = `${right ? 'Right' : 'Not quite'}: ${data.choices[data.answer]}. ${data.reveal}`;
    reveal.hidden = false;
    root.dataset.answered = right ? 'right' : 'wrong';
  }
  root.append(prompt, choices, reveal);
  parentElement.appendChild(root);
  const stop = () => root.remove();
  parentElement.__dalQuestionStop = stop;
  return stop;
}
